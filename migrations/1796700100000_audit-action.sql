-- Up Migration

-- Which of a route's actions a request took, when the route takes several: the console's rewind, restart and terminate
-- share one route, and AU-3's "what" must tell them apart. Null for routes with one action (their route and method say it).
ALTER TABLE bulkflow.audit_records ADD COLUMN action text CHECK (length(action) <= 40);
GRANT INSERT (action) ON bulkflow.audit_records TO bulkflow_app;

-- Down Migration

ALTER TABLE bulkflow.audit_records DROP COLUMN action;
