// The API reference: Swagger UI rendering the app's own OpenAPI document (read-only: requests are made with the
// CLI, the dashboard or a generated client, which carry a token).
/* global SwaggerUIBundle */
SwaggerUIBundle({
  url: '../openapi.json',
  dom_id: '#api',
  deepLinking: true,
  supportedSubmitMethods: [],
  validatorUrl: null,
});
