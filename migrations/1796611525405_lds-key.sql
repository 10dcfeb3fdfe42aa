-- Up Migration

-- The lookup key: the first 8 bytes of lds_hash as a bigint (big-endian, two's complement, as the engine's COPY writes
-- it). Matching merges and probes the upload's (lds_key) index and compares the full hash only for rows whose keys
-- are equal (random keys of 64 bits: practically only the real matches). The 8-byte index builds in less than half
-- the time of the 64-byte one and is a quarter of its size (10M rows: 5.2 s instead of 11.9 s, 193 MB instead of
-- 835 MB). Match ids stay the HMAC of the full hash: unchanged.
CREATE FUNCTION bulkflow.lds_key(lds_hash bytea) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ('x' || encode(substring(lds_hash FROM 1 FOR 8), 'hex'))::bit(64)::bigint;
GRANT EXECUTE ON FUNCTION bulkflow.lds_key(bytea) TO PUBLIC;

-- Added as a stored generated column, so every existing row gets its key as the table is rewritten (no dead rows, no
-- UPDATE), then made a plain column: from here on the engine writes it with each row. Per-upload tables of uploads in
-- flight are not partitions yet: they get it the same way.
ALTER TABLE bulkflow.participants ADD COLUMN lds_key bigint NOT NULL GENERATED ALWAYS AS (bulkflow.lds_key(lds_hash)) STORED;
ALTER TABLE bulkflow.participants ALTER COLUMN lds_key DROP EXPRESSION;
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT c.oid::regclass AS qualified, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'bulkflow' AND c.relkind = 'r' AND c.relname LIKE 'participants\_%' AND NOT c.relispartition
      AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'lds_key')
  LOOP
    EXECUTE format('ALTER TABLE %s ADD COLUMN lds_key bigint NOT NULL GENERATED ALWAYS AS (bulkflow.lds_key(lds_hash)) STORED', t.qualified);
    EXECUTE format('ALTER TABLE %s ALTER COLUMN lds_key DROP EXPRESSION', t.qualified);
  END LOOP;
  -- Every table that had the lookup index on the hash gets it on the key instead (activation builds that one now).
  FOR t IN
    SELECT i.indrelid::regclass AS qualified, c.relname AS name, x.relname AS index FROM pg_index i
    JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'bulkflow' AND c.relname LIKE 'participants\_%' AND x.relname = c.relname || '_lds_hash'
  LOOP
    EXECUTE format('CREATE INDEX %I ON %s (lds_key) WITH (fillfactor = 100, deduplicate_items = off)', t.name || '_lds_key', t.qualified);
    EXECUTE format('DROP INDEX bulkflow.%I', t.index);
  END LOOP;
END $$;

-- Down Migration

DO $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT i.indrelid::regclass AS qualified, c.relname AS name, x.relname AS index FROM pg_index i
    JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'bulkflow' AND c.relname LIKE 'participants\_%' AND x.relname = c.relname || '_lds_key'
  LOOP
    EXECUTE format('CREATE INDEX %I ON %s (lds_hash) WITH (fillfactor = 100, deduplicate_items = off)', t.name || '_lds_hash', t.qualified);
    EXECUTE format('DROP INDEX bulkflow.%I', t.index);
  END LOOP;
  FOR t IN
    SELECT c.oid::regclass AS qualified FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'bulkflow' AND c.relkind = 'r' AND c.relname LIKE 'participants\_%' AND NOT c.relispartition
  LOOP
    EXECUTE format('ALTER TABLE %s DROP COLUMN IF EXISTS lds_key', t.qualified);
  END LOOP;
END $$;
ALTER TABLE bulkflow.participants DROP COLUMN lds_key;
DROP FUNCTION bulkflow.lds_key(bytea);
