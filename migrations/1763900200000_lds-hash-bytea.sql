-- Up Migration

-- lds_hash is a SHA-512 digest that files carry as 128 lowercase hex characters. Kept as its 64 bytes, the
-- lookup index that activation builds takes about half the time (1M rows: 1.5-1.9 s instead of 2.9-3.0 s) and
-- every row is 64 bytes shorter. encode(lds_hash, 'hex') gives back the value as it was in the file.
DROP VIEW bulkflow.active_participants;
ALTER TABLE bulkflow.participants ALTER COLUMN lds_hash TYPE bytea USING decode(lds_hash, 'hex');

-- Per-upload tables of uploads in flight are not partitions yet: they change too, or they could not be attached.
DO $$
DECLARE
  t regclass;
BEGIN
  FOR t IN
    SELECT c.oid::regclass FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'lds_hash'
    WHERE n.nspname = 'bulkflow' AND c.relkind = 'r' AND NOT c.relispartition AND a.atttypid = 'text'::regtype
  LOOP
    EXECUTE format('ALTER TABLE %s ALTER COLUMN lds_hash TYPE bytea USING decode(lds_hash, %L)', t, 'hex');
  END LOOP;
END $$;

CREATE VIEW bulkflow.active_participants AS
SELECT a.state, p.*
FROM bulkflow.active_uploads a
JOIN bulkflow.participants p ON p.upload_id = a.upload_id;

-- Down Migration

DROP VIEW bulkflow.active_participants;
ALTER TABLE bulkflow.participants ALTER COLUMN lds_hash TYPE text COLLATE "C" USING encode(lds_hash, 'hex');
DO $$
DECLARE
  t regclass;
BEGIN
  FOR t IN
    SELECT c.oid::regclass FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'lds_hash'
    WHERE n.nspname = 'bulkflow' AND c.relkind = 'r' AND NOT c.relispartition AND a.atttypid = 'bytea'::regtype
  LOOP
    EXECUTE format('ALTER TABLE %s ALTER COLUMN lds_hash TYPE text COLLATE "C" USING encode(lds_hash, %L)', t, 'hex');
  END LOOP;
END $$;
CREATE VIEW bulkflow.active_participants AS
SELECT a.state, p.*
FROM bulkflow.active_uploads a
JOIN bulkflow.participants p ON p.upload_id = a.upload_id;
