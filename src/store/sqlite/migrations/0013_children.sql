-- jobdeck: foreign_keys off
-- Child runs (see the PostgreSQL migration of the same name): a run's `parent_id`, and the
-- `waiting` status of a parent suspended until its children end. The status CHECK changes, so the
-- table is rebuilt as 0012_pause.sql explains.
CREATE TABLE jobdeck_runs_rebuilt (
  id TEXT PRIMARY KEY,
  job TEXT NOT NULL,
  input TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('scheduled', 'pending', 'running', 'cancelling', 'paused', 'waiting', 'completed', 'partial', 'failed', 'cancelled')),
  progress TEXT,
  result TEXT,
  error TEXT,
  last_error TEXT,
  attempt INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
  priority INTEGER NOT NULL DEFAULT 0,
  run_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  created_by TEXT NOT NULL,
  trigger TEXT NOT NULL CHECK (trigger IN ('api', 'schedule', 'retry', 'manual', 'parent')),
  idempotency_key TEXT,
  worker_id TEXT,
  lease_expires_at INTEGER,
  cancel_mode TEXT CHECK (cancel_mode IN ('graceful', 'force')),
  cancel_reason TEXT,
  cancel_requested_by TEXT,
  cancel_requested_at INTEGER,
  expire_at INTEGER,
  retention_ms INTEGER NOT NULL CHECK (retention_ms >= 0),
  retry_of TEXT,
  log_seq INTEGER NOT NULL DEFAULT 0,
  -- When retention deletes the finished run.
  delete_at INTEGER GENERATED ALWAYS AS (finished_at + retention_ms) STORED,
  attempts TEXT NOT NULL DEFAULT '[]',
  stuck_at INTEGER,
  stuck_attempt INTEGER,
  -- Who asked to pause the run and when; cleared by a resume.
  pause_requested_by TEXT,
  pause_requested_at INTEGER,
  -- The run whose handler started this one.
  parent_id TEXT,
  -- A child its parent waits for: its end counts down the parent's waiting_for.
  awaited INTEGER NOT NULL DEFAULT 0 CHECK (awaited IN (0, 1)),
  -- How many awaited children of a waiting run have not ended.
  waiting_for INTEGER,
  -- Finished exactly when terminal.
  CHECK ((status IN ('completed', 'partial', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
  -- A held run has a worker and a lease.
  CHECK (status NOT IN ('running', 'cancelling') OR (worker_id IS NOT NULL AND lease_expires_at IS NOT NULL)),
  -- A cancelling run has a cancel record.
  CHECK (status <> 'cancelling' OR cancel_mode IS NOT NULL),
  -- A paused run holds no worker, no lease (and so no slot), and has its pause record.
  CHECK (status <> 'paused' OR (worker_id IS NULL AND lease_expires_at IS NULL AND pause_requested_at IS NOT NULL)),
  -- A waiting run holds no worker and no lease, and has children to wait for.
  CHECK (status <> 'waiting' OR (worker_id IS NULL AND lease_expires_at IS NULL AND waiting_for > 0))
);

INSERT INTO jobdeck_runs_rebuilt (
  id, job, input, status, progress, result, error, last_error, attempt, max_attempts, priority,
  run_at, created_at, started_at, finished_at, created_by, trigger, idempotency_key, worker_id,
  lease_expires_at, cancel_mode, cancel_reason, cancel_requested_by, cancel_requested_at,
  expire_at, retention_ms, retry_of, log_seq, attempts, stuck_at, stuck_attempt,
  pause_requested_by, pause_requested_at
)
SELECT
  id, job, input, status, progress, result, error, last_error, attempt, max_attempts, priority,
  run_at, created_at, started_at, finished_at, created_by, trigger, idempotency_key, worker_id,
  lease_expires_at, cancel_mode, cancel_reason, cancel_requested_by, cancel_requested_at,
  expire_at, retention_ms, retry_of, log_seq, attempts, stuck_at, stuck_attempt,
  pause_requested_by, pause_requested_at
FROM jobdeck_runs;

-- Triggers of other tables that read jobdeck_runs would make the rename fail while the name is
-- free: they are dropped here and made again, unchanged, below.
DROP TRIGGER jobdeck_logs_appended;
DROP TRIGGER jobdeck_steps_inserted;
DROP TRIGGER jobdeck_steps_updated;
DROP TABLE jobdeck_runs;
ALTER TABLE jobdeck_runs_rebuilt RENAME TO jobdeck_runs;

CREATE UNIQUE INDEX jobdeck_runs_idempotency ON jobdeck_runs (job, created_by, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobdeck_runs_waiting ON jobdeck_runs (priority DESC, run_at, id) WHERE status IN ('pending', 'scheduled');
CREATE INDEX jobdeck_runs_job ON jobdeck_runs (job, id);
CREATE INDEX jobdeck_runs_status ON jobdeck_runs (status, id);
CREATE INDEX jobdeck_runs_held ON jobdeck_runs (worker_id, lease_expires_at) WHERE status IN ('running', 'cancelling');
CREATE INDEX jobdeck_runs_lease ON jobdeck_runs (lease_expires_at) WHERE status IN ('running', 'cancelling');
CREATE INDEX jobdeck_runs_expire ON jobdeck_runs (expire_at) WHERE expire_at IS NOT NULL AND status IN ('pending', 'scheduled');
CREATE INDEX jobdeck_runs_delete_at ON jobdeck_runs (delete_at) WHERE delete_at IS NOT NULL;
CREATE INDEX jobdeck_runs_stopping ON jobdeck_runs (job, lease_expires_at)
WHERE status IN ('partial', 'cancelled') AND lease_expires_at IS NOT NULL;
CREATE INDEX jobdeck_runs_job_created ON jobdeck_runs (job, created_at, id);
CREATE INDEX jobdeck_runs_job_started ON jobdeck_runs (job, started_at, run_at, created_at)
WHERE started_at IS NOT NULL;
CREATE INDEX jobdeck_runs_job_finished ON jobdeck_runs (job, finished_at, status, started_at)
WHERE finished_at IS NOT NULL;
CREATE INDEX jobdeck_runs_created_by ON jobdeck_runs (created_by, id);
CREATE INDEX jobdeck_runs_parent ON jobdeck_runs (parent_id, id) WHERE parent_id IS NOT NULL;

-- The transition table of src/core/status.ts, with the pairs of `waiting`.
CREATE TRIGGER jobdeck_runs_transition BEFORE UPDATE OF status ON jobdeck_runs
WHEN OLD.status <> NEW.status AND (OLD.status, NEW.status) NOT IN (
  VALUES
      ('scheduled','pending'),
      ('scheduled','running'),
      ('scheduled','cancelled'),
      ('scheduled','paused'),
      ('pending','running'),
      ('pending','cancelled'),
      ('pending','paused'),
      ('running','completed'),
      ('running','partial'),
      ('running','failed'),
      ('running','cancelled'),
      ('running','cancelling'),
      ('running','scheduled'),
      ('running','pending'),
      ('running','paused'),
      ('running','waiting'),
      ('cancelling','cancelled'),
      ('cancelling','partial'),
      ('cancelling','completed'),
      ('cancelling','failed'),
      ('paused','pending'),
      ('paused','cancelled'),
      ('waiting','pending'),
      ('waiting','cancelled'),
      ('waiting','paused')
)
BEGIN
  SELECT RAISE(ABORT, 'INVALID_TRANSITION');
END;

CREATE TRIGGER jobdeck_runs_created AFTER INSERT ON jobdeck_runs
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status)
  VALUES ('run.created', NEW.job, NEW.id, NEW.status);
END;

-- The feed names a pause, a wait and a resume: a running run that pauses or waits is not retrying.
CREATE TRIGGER jobdeck_runs_changed AFTER UPDATE OF status, progress ON jobdeck_runs
WHEN OLD.status IS NOT NEW.status OR OLD.progress IS NOT NEW.progress
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, attempt)
  SELECT e.name, NEW.job, NEW.id, NEW.status, NEW.attempt
  FROM (SELECT CASE
    WHEN NEW.status = OLD.status THEN 'run.progress'
    WHEN NEW.status = 'running' THEN 'run.started'
    WHEN NEW.status = 'cancelling' THEN 'run.cancelling'
    WHEN NEW.status = 'paused' THEN 'run.paused'
    WHEN NEW.status = 'waiting' THEN 'run.waiting'
    WHEN OLD.status IN ('paused', 'waiting') AND NEW.status = 'pending' THEN 'run.resumed'
    WHEN NEW.status IN ('completed', 'partial', 'failed', 'cancelled') THEN 'run.finished'
    WHEN OLD.status IN ('running', 'cancelling') THEN 'run.retrying'
  END AS name) e
  WHERE e.name IS NOT NULL;
END;

CREATE TRIGGER jobdeck_logs_appended AFTER INSERT ON jobdeck_run_logs
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, log_seq)
  SELECT 'run.log', job, id, status, NEW.seq FROM jobdeck_runs WHERE id = NEW.run_id;
END;

CREATE TRIGGER jobdeck_steps_inserted AFTER INSERT ON jobdeck_run_steps
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, attempt, data)
  SELECT 'run.step', r.job, r.id, r.status, NEW.attempt,
    json_object('name', NEW.name, 'status', NEW.status, 'attempt', NEW.attempt,
      'started_at', NEW.started_at, 'ended_at', NEW.ended_at, 'error', json(NEW.error))
  FROM jobdeck_runs r WHERE r.id = NEW.run_id;
END;

CREATE TRIGGER jobdeck_steps_updated AFTER UPDATE ON jobdeck_run_steps
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, attempt, data)
  SELECT 'run.step', r.job, r.id, r.status, NEW.attempt,
    json_object('name', NEW.name, 'status', NEW.status, 'attempt', NEW.attempt,
      'started_at', NEW.started_at, 'ended_at', NEW.ended_at, 'error', json(NEW.error))
  FROM jobdeck_runs r WHERE r.id = NEW.run_id;
END;

-- An awaited child that ends counts down its waiting parent, which is due again once none is left,
-- or at once when this one did not complete (its waitFor then throws).
CREATE TRIGGER jobdeck_runs_child_ended AFTER UPDATE OF status ON jobdeck_runs
WHEN NEW.awaited = 1 AND NEW.parent_id IS NOT NULL
  AND NEW.status IN ('completed', 'partial', 'failed', 'cancelled')
  AND OLD.status NOT IN ('completed', 'partial', 'failed', 'cancelled')
BEGIN
  UPDATE jobdeck_runs
  SET waiting_for = waiting_for - 1,
      status = CASE WHEN waiting_for <= 1 OR NEW.status <> 'completed' THEN 'pending' ELSE status END,
      run_at = CASE WHEN waiting_for <= 1 OR NEW.status <> 'completed' THEN NEW.finished_at ELSE run_at END
  WHERE id = NEW.parent_id AND status = 'waiting';
END;
