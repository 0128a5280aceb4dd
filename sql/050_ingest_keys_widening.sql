-- The loader's keyed loads and widening (issue 9): what a resumed load's totals and schema need.
ALTER TABLE ingest_loads
  -- records not loaded because their key was there already (--on-conflict ignore)
  ADD COLUMN rows_ignored bigint NOT NULL DEFAULT 0,
  -- records loaded over an existing row of their key (--on-conflict update)
  ADD COLUMN rows_updated bigint NOT NULL DEFAULT 0,
  -- the columns widened so far: [{column, from, to, line, value}], committed with their batch
  ADD COLUMN widenings jsonb NOT NULL DEFAULT '[]',
  -- the schema was inferred (no --schema): later values that do not fit widen its columns
  ADD COLUMN schema_inferred boolean NOT NULL DEFAULT false;
