-- Up Migration

-- The key filters become split-block Bloom filters (src/engine/keyFilter.ts): one cache line per probe, built and
-- probed in key order, so match analysis can probe every key of an upload against every other upload's filter. The
-- number of hash functions is fixed by the layout. Filters are derived data and the old layout cannot be read as the
-- new: they are dropped here and rebuilt from the lookup indexes, each by the next match run that needs it (until
-- then a real-time query probes such an upload for every hash, as before filters existed).
DELETE FROM bulkflow.upload_key_filters;
ALTER TABLE bulkflow.upload_key_filters DROP COLUMN hashes;

-- Down Migration

DELETE FROM bulkflow.upload_key_filters;
ALTER TABLE bulkflow.upload_key_filters ADD COLUMN hashes smallint NOT NULL CHECK (hashes BETWEEN 1 AND 32);
