-- The CSV loader's resume state: one row per (target table, input file fingerprint), updated in
-- the same transaction as every batch it loads, so the row always says exactly what is committed.
CREATE TABLE ingest_loads (
  table_name text NOT NULL,
  -- size in bytes and SHA-256 of the first MiB: cheap, and a different file almost never matches
  fingerprint text NOT NULL,
  file_path text NOT NULL,
  file_size bigint NOT NULL,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'complete')),
  -- the schema the load uses, so that a resume converts the rest exactly as the start did
  schema jsonb NOT NULL,
  -- data records consumed by committed batches (loaded or rejected); a resume skips this many
  records_done bigint NOT NULL DEFAULT 0,
  last_line bigint NOT NULL DEFAULT 1,
  rows_loaded bigint NOT NULL DEFAULT 0,
  rows_rejected bigint NOT NULL DEFAULT 0,
  rejected_by_reason jsonb NOT NULL DEFAULT '{}',
  defaulted jsonb NOT NULL DEFAULT '{}',
  rejects_path text NOT NULL,
  -- bytes of the rejects file that belong to committed batches; a resume truncates back to it
  rejects_bytes bigint NOT NULL DEFAULT 0,
  batches bigint NOT NULL DEFAULT 0,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (table_name, fingerprint)
);
