-- Up Migration

-- Match resolution: each state of a record records what it did about the match (its disposition), as events; the
-- record keeps each side's current disposition, the fold of its events (engine/matchDispositions.ts), written in the
-- same transaction as each event. Records also come from real-time match queries, whose asking side may be an
-- applicant no upload holds yet.

-- Who created the record: a bulk match run or a real-time query (initiating_state says which state's).
ALTER TABLE bulkflow.matches ADD COLUMN initiator text NOT NULL DEFAULT 'bulk' CHECK (initiator IN ('bulk', 'query'));
-- A side a query named (an applicant): no upload holds it, and its participant and case ids are optional.
ALTER TABLE bulkflow.matches
  ALTER COLUMN a_participant_id DROP NOT NULL, ALTER COLUMN a_upload_id DROP NOT NULL,
  ALTER COLUMN b_participant_id DROP NOT NULL, ALTER COLUMN b_upload_id DROP NOT NULL;

-- Each side's current disposition ({} until its state records one) and the number of disposition events so far
-- (the record's ETag: a change names the version it read, so two caseworkers never overwrite each other unseen).
ALTER TABLE bulkflow.matches
  ADD COLUMN a_disposition jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN b_disposition jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN version integer NOT NULL DEFAULT 0;

-- Why a record is closed: an upload no longer holds the hash (closed_by_upload names it; a later upload holding it
-- again opens the record again), both states reached a final disposition, or a state marked the match invalid.
-- Records closed by their states stay closed until an operator reopens them.
ALTER TABLE bulkflow.matches ADD COLUMN closed_reason text CHECK (closed_reason IN ('upload', 'final_dispositions', 'invalid_match'));
UPDATE bulkflow.matches SET closed_reason = 'upload' WHERE closed_at IS NOT NULL;
DO $$
DECLARE
  old text := (SELECT conname FROM pg_constraint WHERE conrelid = 'bulkflow.matches'::regclass AND contype = 'c'
               AND pg_get_constraintdef(oid) LIKE '%closed_by_upload IS NULL%');
BEGIN
  EXECUTE format('ALTER TABLE bulkflow.matches DROP CONSTRAINT %I', old);
END $$;
ALTER TABLE bulkflow.matches
  ADD CONSTRAINT matches_closed_reason CHECK ((closed_at IS NULL) = (closed_reason IS NULL)),
  ADD CONSTRAINT matches_closed_by_upload CHECK ((closed_by_upload IS NOT NULL) = (closed_reason IS NOT DISTINCT FROM 'upload'));

-- The disposition events: who (the caller's object id and client), when, which state's side, what changed (field ->
-- new value; null clears). An operator's reopening has no state. The values are personal data of the record's two
-- states: they go with the record when housekeeping deletes it.
CREATE TABLE bulkflow.match_events (
  match_id   text COLLATE "C" NOT NULL REFERENCES bulkflow.matches ON DELETE CASCADE,
  version    integer NOT NULL CHECK (version > 0),
  kind       text NOT NULL CHECK (kind IN ('disposition', 'reopened')),
  state      text COLLATE "C" CHECK ((state IS NULL) = (kind = 'reopened')),
  actor      text NOT NULL,
  client_id  text NOT NULL,
  changes    jsonb NOT NULL,
  at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (match_id, version)
);

GRANT SELECT, INSERT, DELETE ON bulkflow.match_events TO bulkflow_app;

-- Down Migration
DROP TABLE bulkflow.match_events;
ALTER TABLE bulkflow.matches DROP CONSTRAINT matches_closed_reason, DROP CONSTRAINT matches_closed_by_upload;
DELETE FROM bulkflow.matches WHERE initiator = 'query' OR (closed_at IS NOT NULL AND closed_by_upload IS NULL);
ALTER TABLE bulkflow.matches ADD CONSTRAINT matches_closed_check CHECK ((closed_at IS NULL) = (closed_by_upload IS NULL));
ALTER TABLE bulkflow.matches DROP COLUMN closed_reason, DROP COLUMN version, DROP COLUMN a_disposition, DROP COLUMN b_disposition, DROP COLUMN initiator;
ALTER TABLE bulkflow.matches
  ALTER COLUMN a_participant_id SET NOT NULL, ALTER COLUMN a_upload_id SET NOT NULL,
  ALTER COLUMN b_participant_id SET NOT NULL, ALTER COLUMN b_upload_id SET NOT NULL;
