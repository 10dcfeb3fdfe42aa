-- Up Migration

-- The audit trail (NIST SP 800-53 AU-2/AU-3): one row per API request that returned participant-level data or changed
-- something, written by the HTTP edge before the answer leaves (src/functions/auditSeam.ts). Append-only for the app:
-- bulkflow_app may INSERT and SELECT, never UPDATE, DELETE or TRUNCATE. Old rows leave only through
-- bulkflow.purge_audit_records below, which deletes by age and nothing else.
CREATE TABLE bulkflow.audit_records (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at               timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- The token's object id (oid or sub) and the client application (azp or appid); never the token.
  caller_id        text NOT NULL,
  client_id        text NOT NULL,
  roles            text[] NOT NULL,
  -- Every state whose data the request touched: the state asked for and, for match records, the other state.
  states           text[] NOT NULL,
  -- The function (route) and the HTTP method.
  route            text NOT NULL,
  method           text NOT NULL,
  -- Upload, match or instance ids the answer named; never participant values.
  object_ids       text[] NOT NULL DEFAULT '{}',
  records_returned integer,
  -- The HTTP status answered.
  outcome          smallint NOT NULL,
  request_id       text NOT NULL,
  CHECK (cardinality(states) <= 60 AND cardinality(object_ids) <= 1000)
);
-- Reading by state (its own state's audit) and by time, newest first with the id as cursor.
CREATE INDEX audit_records_states ON bulkflow.audit_records USING gin (states);
CREATE INDEX audit_records_at ON bulkflow.audit_records (at);

-- Insert names every column but `at`: the time is the database's clock, so the app cannot write a record that is
-- "old" (and so purgeable) or back-dated.
GRANT SELECT ON bulkflow.audit_records TO bulkflow_app;
GRANT INSERT (caller_id, client_id, roles, states, route, method, object_ids, records_returned, outcome, request_id)
  ON bulkflow.audit_records TO bulkflow_app;

-- The one path that deletes audit rows: a function owned by a role that can log in nowhere and holds only what the
-- deletion needs. The app may call it, but it deletes only rows older than `keep_days`, never fewer than 30 days.
DO $$
BEGIN
  PERFORM set_config('createrole_self_grant', 'set, inherit', true);
  CREATE ROLE bulkflow_audit_retention NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL; -- roles belong to the server: another database on it made it already
END $$;
GRANT USAGE ON SCHEMA bulkflow TO bulkflow_audit_retention;
GRANT SELECT, DELETE ON bulkflow.audit_records TO bulkflow_audit_retention;

CREATE FUNCTION bulkflow.purge_audit_records(keep_days integer) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  deleted bigint;
BEGIN
  IF keep_days IS NULL OR keep_days < 30 THEN
    RAISE EXCEPTION 'audit records are kept at least 30 days (asked to keep %)', keep_days USING ERRCODE = '22023';
  END IF;
  DELETE FROM bulkflow.audit_records WHERE at < now() - make_interval(days => keep_days);
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $$;
-- A new owner needs CREATE on the schema at the moment of the change unless a superuser makes it, and the
-- administrator is not one on Azure (PostgreSQL's ALTER FUNCTION rules): granted for the change only.
GRANT CREATE ON SCHEMA bulkflow TO bulkflow_audit_retention;
ALTER FUNCTION bulkflow.purge_audit_records(integer) OWNER TO bulkflow_audit_retention;
REVOKE CREATE ON SCHEMA bulkflow FROM bulkflow_audit_retention;
REVOKE ALL ON FUNCTION bulkflow.purge_audit_records(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bulkflow.purge_audit_records(integer) TO bulkflow_app;

-- Down Migration

DROP FUNCTION bulkflow.purge_audit_records(integer);
DROP TABLE bulkflow.audit_records;
REVOKE ALL ON SCHEMA bulkflow FROM bulkflow_audit_retention;
-- The role stays: other databases on the server may use it.
