-- Up Migration

-- One row per match-analysis run, keyed by the completion event it answered: a replayed event changes nothing.
CREATE TABLE bulkflow.match_runs (
  event_id    text PRIMARY KEY,
  upload_id   text NOT NULL REFERENCES bulkflow.uploads,
  state       text NOT NULL,
  -- 'matched', or 'skipped' when the upload was no longer active by the time the event arrived.
  outcome     text NOT NULL CHECK (outcome IN ('matched', 'skipped')),
  -- [{ "state": "TX", "matches": 12 }, ...]: distinct lds_hash values shared with each other state's active upload.
  results     jsonb NOT NULL,
  computed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX match_runs_upload ON bulkflow.match_runs (upload_id);

-- Down Migration
DROP TABLE bulkflow.match_runs;
