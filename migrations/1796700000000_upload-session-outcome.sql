-- Up Migration

-- A commit no longer runs inside its request: the file is verified (whole-file SHA-256) and copied to its name by a
-- durable activity, where no HTTP timeout applies. The session shows verifying, then committed (with the upload it
-- became) or failed (why, e.g. the SHA-256 did not match). Finished sessions stay readable, so a client that lost the
-- commit's answer learns the outcome, until housekeeping ends them with the idle ones; only live ones hold the name.
ALTER TABLE bulkflow.upload_sessions DROP CONSTRAINT upload_sessions_status_check;
UPDATE bulkflow.upload_sessions SET status = 'verifying' WHERE status = 'committing';
ALTER TABLE bulkflow.upload_sessions
  ADD CONSTRAINT upload_sessions_status_check CHECK (status IN ('open', 'verifying', 'committed', 'failed'));
ALTER TABLE bulkflow.upload_sessions RENAME COLUMN committing_since TO verifying_since;
-- upload_id: the upload the committed file became; failure: {title, detail} of a refused commit (no row values).
ALTER TABLE bulkflow.upload_sessions ADD COLUMN upload_id text, ADD COLUMN failure jsonb;
DROP INDEX bulkflow.upload_sessions_one_per_name;
CREATE UNIQUE INDEX upload_sessions_one_per_name ON bulkflow.upload_sessions (state, lower(file_name))
  WHERE status IN ('open', 'verifying');

-- Down Migration

DELETE FROM bulkflow.upload_sessions WHERE status IN ('committed', 'failed');
DROP INDEX bulkflow.upload_sessions_one_per_name;
CREATE UNIQUE INDEX upload_sessions_one_per_name ON bulkflow.upload_sessions (state, lower(file_name));
ALTER TABLE bulkflow.upload_sessions DROP COLUMN upload_id, DROP COLUMN failure;
ALTER TABLE bulkflow.upload_sessions RENAME COLUMN verifying_since TO committing_since;
ALTER TABLE bulkflow.upload_sessions DROP CONSTRAINT upload_sessions_status_check;
UPDATE bulkflow.upload_sessions SET status = 'committing' WHERE status = 'verifying';
ALTER TABLE bulkflow.upload_sessions ADD CONSTRAINT upload_sessions_status_check CHECK (status IN ('open', 'committing'));
