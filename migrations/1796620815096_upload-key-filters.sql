-- Up Migration

-- One Bloom filter per activated upload over its lookup keys (src/engine/keyFilter.ts), built at activation before
-- the upload becomes active: a real-time query probes only the uploads whose filter may hold a hash, so its cost
-- follows the hits, not the number of states. An upload's keys never change once active, so neither does its filter.
-- Uploads activated before this migration have none and are probed for every hash until their state's next upload.
CREATE TABLE bulkflow.upload_key_filters (
  upload_id text PRIMARY KEY REFERENCES bulkflow.uploads ON DELETE CASCADE,
  keys      bigint NOT NULL,
  hashes    smallint NOT NULL CHECK (hashes BETWEEN 1 AND 32),
  bits      bytea NOT NULL
);
-- Random bits do not compress: store them without trying.
ALTER TABLE bulkflow.upload_key_filters ALTER COLUMN bits SET STORAGE EXTERNAL;
GRANT SELECT, INSERT, DELETE ON bulkflow.upload_key_filters TO bulkflow_app;

-- Down Migration

DROP TABLE bulkflow.upload_key_filters;
