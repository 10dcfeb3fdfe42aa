-- Up Migration

-- A real-time match query's audit record keeps how many persons it asked about beside the hits it returned
-- (records_returned): a count, never the hashes.
ALTER TABLE bulkflow.audit_records ADD COLUMN persons_queried integer CHECK (persons_queried >= 0);
GRANT INSERT (persons_queried) ON bulkflow.audit_records TO bulkflow_app;

-- Down Migration

ALTER TABLE bulkflow.audit_records DROP COLUMN persons_queried;
