-- An upsert (--on-conflict update) leaves a row that already holds a record's values as it is
-- (src/etl/upsert.ts); a resumed load's summary counts those rows too.
ALTER TABLE ingest_loads
  -- records of an --on-conflict update load whose key's row already held their values
  ADD COLUMN rows_unchanged bigint NOT NULL DEFAULT 0;
