-- Up Migration

-- Per-caller request counters of the HTTP API, shared by every app instance: one row per caller holding the start
-- of its current one-minute window and the requests counted in it. UNLOGGED: a counter lost in a crash or failover
-- only resets a window, and skipping the WAL keeps the one write per request cheap.
CREATE UNLOGGED TABLE bulkflow.api_rate_limits (
  caller       text PRIMARY KEY,
  window_start timestamptz NOT NULL,
  requests     integer NOT NULL
);
-- The app role (1763900300000_app-role.sql) counts; it never deletes.
GRANT SELECT, INSERT, UPDATE ON bulkflow.api_rate_limits TO bulkflow_app;

-- Down Migration

DROP TABLE bulkflow.api_rate_limits;
