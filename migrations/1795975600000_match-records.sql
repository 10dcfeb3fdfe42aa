-- Up Migration

-- Match records: one per state pair {state_a, state_b} (state_a < state_b) and lds_hash that both states' active
-- uploads hold. Records are personal data (each side's participant and case id) and are read by those two states only.

-- pgcrypto's HMAC makes the match id. It is a trusted extension (no superuser needed); on Azure it must be on the
-- server's azure.extensions allow-list (infra/bicep/modules/postgres.bicep).
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA bulkflow;

-- The match id key. It never leaves the database: an id seen outside it (an address, a log line, a screenshot)
-- cannot be tested against a guessed person's lds_hash, and whoever can read this table can read the hashes anyway.
CREATE TABLE bulkflow.match_id_key (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  key       bytea NOT NULL
);

DO $$
DECLARE
  crypto text := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto');
BEGIN
  EXECUTE format('INSERT INTO bulkflow.match_id_key (key) VALUES (%I.gen_random_bytes(32))', crypto);
  -- The id: HMAC-SHA-256 over (state_a, state_b, lds_hash), its first 96 bits in base64url (16 characters). One SQL
  -- expression, so the planner inlines it; callers pass the key read once per statement.
  EXECUTE format($f$
    CREATE FUNCTION bulkflow.match_id(key bytea, state_a text, state_b text, lds_hash bytea) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN translate(encode(substring(%I.hmac(convert_to(state_a || state_b, 'UTF8') || lds_hash, key, 'sha256') FROM 1 FOR 12), 'base64'), '+/', '-_')
  $f$, crypto);
END $$;

-- Ids and state codes compare byte-wise (COLLATE "C"): the record indexes are built on them, and a linguistic
-- collation (the Azure database's en_US.utf8) would make every comparison of an insert slower for nothing.
CREATE TABLE bulkflow.matches (
  match_id          text COLLATE "C" PRIMARY KEY,
  state_a           text COLLATE "C" NOT NULL,
  state_b           text COLLATE "C" NOT NULL,
  lds_hash          bytea NOT NULL,
  -- The state whose upload opened the record (last opened, when it was closed and opened again).
  initiating_state  text COLLATE "C" NOT NULL,
  -- Each side as its state's active upload holds it (the lowest participant_id when several rows share the hash).
  a_participant_id  text NOT NULL,
  a_case_id         text,
  a_upload_id       text NOT NULL,
  b_participant_id  text NOT NULL,
  b_case_id         text,
  b_upload_id       text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  opened_at         timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  -- Set when a newer active upload of either state no longer holds the hash; that upload is closed_by_upload.
  closed_at         timestamptz,
  closed_by_upload  text,
  CHECK (state_a < state_b),
  CHECK (initiating_state IN (state_a, state_b)),
  CHECK ((closed_at IS NULL) = (closed_by_upload IS NULL))
);
-- A state's open and closed records in match id order (the read API's cursor), from either side of the pair.
CREATE INDEX matches_open_a ON bulkflow.matches (state_a, match_id) WHERE closed_at IS NULL;
CREATE INDEX matches_open_b ON bulkflow.matches (state_b, match_id) WHERE closed_at IS NULL;
CREATE INDEX matches_closed_a ON bulkflow.matches (state_a, match_id) WHERE closed_at IS NOT NULL;
CREATE INDEX matches_closed_b ON bulkflow.matches (state_b, match_id) WHERE closed_at IS NOT NULL;
CREATE INDEX matches_closed_at ON bulkflow.matches (closed_at) WHERE closed_at IS NOT NULL;

-- The app (README "Database roles") reads the key and writes the records; the id function and pgcrypto are PUBLIC.
GRANT SELECT ON bulkflow.match_id_key TO bulkflow_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON bulkflow.matches TO bulkflow_app;

-- A run's results now count records per other state: [{ "state": "TX", "matches": 12, "new": 3, "closed": 1 }].
COMMENT ON COLUMN bulkflow.match_runs.results IS 'per other state: open records after the run (matches), opened (new) and closed by it';

-- Down Migration
REVOKE ALL ON bulkflow.matches, bulkflow.match_id_key FROM bulkflow_app;
DROP TABLE bulkflow.matches;
DROP FUNCTION bulkflow.match_id(bytea, text, text, bytea);
DROP TABLE bulkflow.match_id_key;
