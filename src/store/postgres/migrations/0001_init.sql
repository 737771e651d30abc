-- Runs, their items and logs, and the run-time state of jobs.
-- Times are milliseconds since the epoch (bigint), as in the SQLite store; JSON columns are jsonb.

CREATE TABLE jobdeck_runs (
  id text PRIMARY KEY,
  job text NOT NULL,
  input jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('scheduled', 'pending', 'running', 'cancelling', 'completed', 'partial', 'failed', 'cancelled')),
  progress jsonb,
  result jsonb,
  error jsonb,
  last_error jsonb,
  attempt integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  max_attempts integer NOT NULL CHECK (max_attempts >= 1),
  priority integer NOT NULL DEFAULT 0,
  run_at bigint NOT NULL,
  created_at bigint NOT NULL,
  started_at bigint,
  finished_at bigint,
  created_by text NOT NULL,
  trigger text NOT NULL CHECK (trigger IN ('api', 'schedule', 'retry', 'manual')),
  idempotency_key text,
  worker_id text,
  lease_expires_at bigint,
  cancel_mode text CHECK (cancel_mode IN ('graceful', 'force')),
  cancel_reason text,
  cancel_requested_by text,
  cancel_requested_at bigint,
  expire_at bigint,
  retention_ms bigint NOT NULL CHECK (retention_ms >= 0),
  retry_of text,
  log_seq integer NOT NULL DEFAULT 0,
  -- When retention deletes the finished run.
  delete_at bigint GENERATED ALWAYS AS (finished_at + retention_ms) STORED,
  -- Finished exactly when terminal.
  CHECK ((status IN ('completed', 'partial', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
  -- A held run has a worker and a lease.
  CHECK (status NOT IN ('running', 'cancelling') OR (worker_id IS NOT NULL AND lease_expires_at IS NOT NULL)),
  -- A cancelling run has a cancel record.
  CHECK (status <> 'cancelling' OR cancel_mode IS NOT NULL)
);

CREATE UNIQUE INDEX jobdeck_runs_idempotency ON jobdeck_runs (job, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobdeck_runs_waiting ON jobdeck_runs (priority DESC, run_at, id) WHERE status IN ('pending', 'scheduled');
CREATE INDEX jobdeck_runs_job ON jobdeck_runs (job, id);
CREATE INDEX jobdeck_runs_status ON jobdeck_runs (status, id);
CREATE INDEX jobdeck_runs_held ON jobdeck_runs (worker_id, lease_expires_at) WHERE status IN ('running', 'cancelling');
CREATE INDEX jobdeck_runs_lease ON jobdeck_runs (lease_expires_at) WHERE status IN ('running', 'cancelling');
CREATE INDEX jobdeck_runs_expire ON jobdeck_runs (expire_at) WHERE expire_at IS NOT NULL AND status IN ('pending', 'scheduled');
CREATE INDEX jobdeck_runs_delete_at ON jobdeck_runs (delete_at) WHERE delete_at IS NOT NULL;

-- The transition table of src/core/status.ts, enforced by the database too.
CREATE FUNCTION jobdeck_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (OLD.status, NEW.status) NOT IN (
    ('scheduled','pending'),
    ('scheduled','running'),
    ('scheduled','cancelled'),
    ('pending','running'),
    ('pending','cancelled'),
    ('running','completed'),
    ('running','partial'),
    ('running','failed'),
    ('running','cancelled'),
    ('running','cancelling'),
    ('running','scheduled'),
    ('running','pending'),
    ('cancelling','cancelled'),
    ('cancelling','partial'),
    ('cancelling','completed'),
    ('cancelling','failed')
  ) THEN
    RAISE EXCEPTION 'INVALID_TRANSITION: % -> %', OLD.status, NEW.status USING ERRCODE = 'JD001';
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER jobdeck_runs_transition BEFORE UPDATE OF status ON jobdeck_runs
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
EXECUTE FUNCTION jobdeck_check_transition();

CREATE TABLE jobdeck_run_items (
  run_id text NOT NULL REFERENCES jobdeck_runs (id) ON DELETE CASCADE,
  key text NOT NULL,
  position integer NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
  error jsonb,
  PRIMARY KEY (run_id, key)
);

CREATE TABLE jobdeck_run_logs (
  run_id text NOT NULL REFERENCES jobdeck_runs (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  level text NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
  message text NOT NULL,
  data jsonb,
  time bigint NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE jobdeck_jobs (
  name text PRIMARY KEY,
  enabled boolean NOT NULL,
  updated_at bigint NOT NULL
);
