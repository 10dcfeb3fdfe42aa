-- Up Migration

-- Housekeeping deletes the counters of callers whose window ended long ago: a caller's row otherwise stays for good,
-- naming everyone who ever called the API. An ended window counts the same as no row, so this changes no decision.
GRANT DELETE ON bulkflow.api_rate_limits TO bulkflow_app;

-- Down Migration

REVOKE DELETE ON bulkflow.api_rate_limits FROM bulkflow_app;
