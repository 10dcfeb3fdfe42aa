-- Up Migration

-- When the uploaded file was deleted from storage (README "Personal data: what remains where"). Final uploads
-- without it still have their raw file: the app deletes it at final, housekeeping retries failures and deletes
-- files kept for UPLOAD_BLOB_RETENTION_HOURS. Uploads that were final before this migration are swept too.
ALTER TABLE bulkflow.uploads ADD COLUMN blob_deleted_at timestamptz;
CREATE INDEX uploads_blob_kept ON bulkflow.uploads ((coalesce(failed_at, superseded_at, completed_at)))
  WHERE blob_deleted_at IS NULL AND status IN ('complete', 'failed', 'superseded');

-- Down Migration

DROP INDEX bulkflow.uploads_blob_kept;
ALTER TABLE bulkflow.uploads DROP COLUMN blob_deleted_at;
