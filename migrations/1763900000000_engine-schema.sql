-- Up Migration

-- Engine schema: uploads and their plan, the chunk ledger, per-row errors, the
-- participants (one partition per upload), the active upload per state, and the outbox.
CREATE SCHEMA IF NOT EXISTS bulkflow;

CREATE TABLE bulkflow.uploads (
  upload_id      text PRIMARY KEY,
  -- Registration order: an older upload never activates over a newer one of its state.
  seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  state          text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
  source         text NOT NULL,
  etag           text NOT NULL,
  status         text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'complete', 'failed', 'superseded')),
  registered_at  timestamptz NOT NULL DEFAULT now(),
  planned_at     timestamptz,
  finalized_at   timestamptz,
  completed_at   timestamptz,
  failed_at      timestamptz,
  superseded_at  timestamptz,
  superseded_by  text,
  cleaned_at     timestamptz,
  size_bytes     bigint,
  header         jsonb,
  warnings       jsonb NOT NULL DEFAULT '[]',
  rows_total     bigint,
  rows_committed bigint,
  rows_rejected  bigint,
  rows_duplicate bigint,
  error_counts   jsonb,
  error_code     text,
  error_message  text,
  error_line     integer,
  UNIQUE (state, source, etag)
);
CREATE INDEX uploads_state_seq ON bulkflow.uploads (state, seq DESC);
CREATE INDEX uploads_source_seq ON bulkflow.uploads (source, seq DESC);

CREATE TABLE bulkflow.upload_chunks (
  upload_id  text NOT NULL REFERENCES bulkflow.uploads ON DELETE CASCADE,
  chunk_no   integer NOT NULL,
  byte_start bigint NOT NULL,
  byte_end   bigint NOT NULL,
  first_line integer NOT NULL,
  rows       integer NOT NULL,
  PRIMARY KEY (upload_id, chunk_no)
);

CREATE TABLE bulkflow.chunk_ledger (
  upload_id      text NOT NULL,
  chunk_no       integer NOT NULL,
  rows_committed integer NOT NULL,
  rows_rejected  integer NOT NULL,
  error_counts   jsonb NOT NULL DEFAULT '{}',
  committed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (upload_id, chunk_no),
  FOREIGN KEY (upload_id, chunk_no) REFERENCES bulkflow.upload_chunks ON DELETE CASCADE
);

-- One row per failing column of a rejected row (column NULL for a whole-row problem).
-- Never holds row values: the message names the rule.
CREATE TABLE bulkflow.row_errors (
  upload_id text NOT NULL,
  line      integer NOT NULL,
  "column"  text,
  code      text NOT NULL,
  message   text NOT NULL
);
CREATE INDEX row_errors_cursor ON bulkflow.row_errors (upload_id, line, (coalesce("column", '')));

CREATE TABLE bulkflow.participants (
  upload_id                     text NOT NULL,
  line                          integer NOT NULL,
  lds_hash                      text COLLATE "C" NOT NULL,
  case_id                       text,
  participant_id                text COLLATE "C" NOT NULL,
  participant_closing_date      date,
  recent_benefit_issuance_dates daterange[],
  vulnerable_individual         boolean
) PARTITION BY LIST (upload_id);

CREATE TABLE bulkflow.active_uploads (
  state        text PRIMARY KEY,
  upload_id    text NOT NULL UNIQUE REFERENCES bulkflow.uploads,
  activated_at timestamptz NOT NULL DEFAULT now()
);

-- The one read path for matching: rows of active uploads only. Activation swaps
-- active_uploads in one transaction, so a statement sees the old set or the new set.
CREATE VIEW bulkflow.active_participants AS
SELECT a.state, p.*
FROM bulkflow.active_uploads a
JOIN bulkflow.participants p ON p.upload_id = a.upload_id;

-- CloudEvents waiting for delivery (delivery belongs to the app).
CREATE TABLE bulkflow.outbox (
  seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  id           text PRIMARY KEY,
  type         text NOT NULL,
  source       text NOT NULL,
  subject      text NOT NULL,
  time         timestamptz NOT NULL DEFAULT now(),
  data         jsonb NOT NULL,
  published_at timestamptz
);
CREATE INDEX outbox_unpublished ON bulkflow.outbox (seq) WHERE published_at IS NULL;

-- Down Migration

-- Per-upload partitions go with their parent; the schema stays (it holds the migrations table).
DROP VIEW bulkflow.active_participants;
DROP TABLE bulkflow.outbox, bulkflow.active_uploads, bulkflow.participants CASCADE;
DROP TABLE bulkflow.row_errors, bulkflow.chunk_ledger, bulkflow.upload_chunks, bulkflow.uploads;
