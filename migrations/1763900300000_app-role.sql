-- Up Migration

-- bulkflow_app: the only role the app acts as (README "Database roles"). Migrations run as the administrator at
-- deploy time; the app's login (on Azure its managed identity, locally a password login) is a member that may
-- SET ROLE to bulkflow_app and holds nothing itself. bulkflow_app can read and write the engine's tables, create
-- the per-upload tables and their indexes in this schema (which it then owns), and owns the partitioned
-- participants table and its view, because attaching a partition needs the parent's owner. It cannot create
-- roles or databases, change or drop the schema, read the migrations table, or touch any other schema.
DO $$
BEGIN
  -- A non-superuser administrator (Azure's) keeps SET on the role it creates, so later migrations can still
  -- change objects the app owns (the per-upload tables).
  PERFORM set_config('createrole_self_grant', 'set, inherit', true);
  CREATE ROLE bulkflow_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  -- Roles belong to the server: another database on it (tests, a second environment) made it already.
  NULL;
END $$;

GRANT USAGE, CREATE ON SCHEMA bulkflow TO bulkflow_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
  bulkflow.uploads, bulkflow.upload_chunks, bulkflow.chunk_ledger, bulkflow.row_errors,
  bulkflow.active_uploads, bulkflow.outbox, bulkflow.match_runs
TO bulkflow_app;

ALTER TABLE bulkflow.participants OWNER TO bulkflow_app;
ALTER VIEW bulkflow.active_participants OWNER TO bulkflow_app;
-- Per-upload tables made before this migration (uploads in flight, active partitions) are the app's too.
DO $$
DECLARE
  t regclass;
BEGIN
  FOR t IN
    SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'bulkflow' AND c.relkind = 'r' AND c.relname ~ '^participants_[a-z]{2}_[0-9a-f]{20}$'
  LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO bulkflow_app', t);
  END LOOP;
END $$;

-- Down Migration

DO $$
DECLARE
  t regclass;
BEGIN
  FOR t IN
    SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'bulkflow' AND c.relkind = 'r' AND c.relname ~ '^participants_[a-z]{2}_[0-9a-f]{20}$'
  LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO CURRENT_USER', t);
  END LOOP;
END $$;
ALTER VIEW bulkflow.active_participants OWNER TO CURRENT_USER;
ALTER TABLE bulkflow.participants OWNER TO CURRENT_USER;
REVOKE ALL ON
  bulkflow.uploads, bulkflow.upload_chunks, bulkflow.chunk_ledger, bulkflow.row_errors,
  bulkflow.active_uploads, bulkflow.outbox, bulkflow.match_runs
FROM bulkflow_app;
REVOKE ALL ON SCHEMA bulkflow FROM bulkflow_app;
-- The role stays: other databases on the server may use it.
