-- Up Migration

-- Resumable uploads in parts (and the single PUT, which is a session of one part). A session holds the state,
-- the file name it will be committed as, its declared size and, when the client gave it, the whole file's SHA-256.
-- Its bytes are staged as blocks of a blob of its own (`staging/{state}/{id}` in the uploads container: no .csv
-- suffix, so no BlobCreated subscription sees it) until every part arrived and checked out; only then is the
-- file committed under its name. Nothing here is personal data: names, sizes, digests of parts and times.
CREATE TABLE bulkflow.upload_sessions (
  id              uuid PRIMARY KEY,
  state           text NOT NULL,
  file_name       text NOT NULL,
  size            bigint NOT NULL CHECK (size > 0),
  part_bytes      integer NOT NULL CHECK (part_bytes > 0),
  sha256          bytea,
  -- open: taking parts; committing: one request verifies and commits it (until committing_since is stale).
  status          text NOT NULL CHECK (status IN ('open', 'committing')),
  -- A single PUT is a session of one part that lives as long as its request: stale within minutes, not hours.
  single          boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_activity   timestamptz NOT NULL DEFAULT now(),
  committing_since timestamptz
);
-- One upload of a name at a time: a second gets 409 instead of both racing for the same blob.
CREATE UNIQUE INDEX upload_sessions_one_per_name ON bulkflow.upload_sessions (state, lower(file_name));
CREATE INDEX upload_sessions_idle ON bulkflow.upload_sessions (last_activity);

-- The parts that arrived whole and matched their digest; a re-sent part replaces its row (and its block).
CREATE TABLE bulkflow.upload_session_parts (
  session_id  uuid NOT NULL REFERENCES bulkflow.upload_sessions (id) ON DELETE CASCADE,
  part_number integer NOT NULL CHECK (part_number >= 1),
  block_id    text NOT NULL,
  bytes       integer NOT NULL,
  sha256      bytea NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, part_number)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON bulkflow.upload_sessions, bulkflow.upload_session_parts TO bulkflow_app;

-- Down Migration

DROP TABLE bulkflow.upload_session_parts;
DROP TABLE bulkflow.upload_sessions;
