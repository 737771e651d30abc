-- index jobdeck_alert_deliveries_due
CREATE INDEX jobdeck_alert_deliveries_due ON jobdeck_alert_deliveries (next_attempt_at)
WHERE status = 'pending';

-- index jobdeck_alerts_created
CREATE INDEX jobdeck_alerts_created ON jobdeck_alerts (created_at);

-- index jobdeck_job_starts_job_at
CREATE INDEX jobdeck_job_starts_job_at ON jobdeck_job_starts (job, started_at);

-- index jobdeck_runs_created_by
CREATE INDEX jobdeck_runs_created_by ON jobdeck_runs (created_by, id);

-- index jobdeck_runs_delete_at
CREATE INDEX jobdeck_runs_delete_at ON jobdeck_runs (delete_at) WHERE delete_at IS NOT NULL;

-- index jobdeck_runs_expire
CREATE INDEX jobdeck_runs_expire ON jobdeck_runs (expire_at) WHERE expire_at IS NOT NULL AND status IN ('pending', 'scheduled');

-- index jobdeck_runs_held
CREATE INDEX jobdeck_runs_held ON jobdeck_runs (worker_id, lease_expires_at) WHERE status IN ('running', 'cancelling');

-- index jobdeck_runs_idempotency
CREATE UNIQUE INDEX jobdeck_runs_idempotency ON jobdeck_runs (job, created_by, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- index jobdeck_runs_job
CREATE INDEX jobdeck_runs_job ON jobdeck_runs (job, id);

-- index jobdeck_runs_job_created
CREATE INDEX jobdeck_runs_job_created ON jobdeck_runs (job, created_at, id);

-- index jobdeck_runs_job_finished
CREATE INDEX jobdeck_runs_job_finished ON jobdeck_runs (job, finished_at, status, started_at)
WHERE finished_at IS NOT NULL;

-- index jobdeck_runs_job_started
CREATE INDEX jobdeck_runs_job_started ON jobdeck_runs (job, started_at, run_at, created_at)
WHERE started_at IS NOT NULL;

-- index jobdeck_runs_lease
CREATE INDEX jobdeck_runs_lease ON jobdeck_runs (lease_expires_at) WHERE status IN ('running', 'cancelling');

-- index jobdeck_runs_parent
CREATE INDEX jobdeck_runs_parent ON jobdeck_runs (parent_id, id) WHERE parent_id IS NOT NULL;

-- index jobdeck_runs_status
CREATE INDEX jobdeck_runs_status ON jobdeck_runs (status, id);

-- index jobdeck_runs_stopping
CREATE INDEX jobdeck_runs_stopping ON jobdeck_runs (job, lease_expires_at)
WHERE status IN ('partial', 'cancelled') AND lease_expires_at IS NOT NULL;

-- index jobdeck_runs_waiting
CREATE INDEX jobdeck_runs_waiting ON jobdeck_runs (priority DESC, run_at, id) WHERE status IN ('pending', 'scheduled');

-- table jobdeck_alert_cooldowns
CREATE TABLE jobdeck_alert_cooldowns (
  rule TEXT NOT NULL,
  job TEXT NOT NULL,
  until_at INTEGER NOT NULL,
  PRIMARY KEY (rule, job)
);

-- table jobdeck_alert_deliveries
CREATE TABLE jobdeck_alert_deliveries (
  alert_id TEXT NOT NULL REFERENCES jobdeck_alerts (id) ON DELETE CASCADE,
  channel TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  -- Each attempt: {at, ok, durationMs, status?, error?}, oldest first (JSON).
  attempts TEXT NOT NULL DEFAULT '[]',
  attempt_count INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  finished_at INTEGER,
  PRIMARY KEY (alert_id, channel)
);

-- table jobdeck_alerts
CREATE TABLE jobdeck_alerts (
  id TEXT PRIMARY KEY,
  rule TEXT NOT NULL,
  key TEXT NOT NULL,
  event TEXT NOT NULL,
  job TEXT NOT NULL,
  run_id TEXT,
  severity TEXT NOT NULL,
  message TEXT NOT NULL,
  -- The webhook body: event, run, rule and link, as sent (JSON).
  payload TEXT NOT NULL,
  -- Within the cooldown of its rule and job: recorded, never sent.
  suppressed INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (rule, key)
);

-- table jobdeck_events
CREATE TABLE jobdeck_events (
  -- The rowid: the newest event is never deleted, so seqs only grow.
  seq INTEGER PRIMARY KEY,
  -- Wall time of the write (ms), for retention and for measuring how late readers see it.
  at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
  name TEXT NOT NULL,
  job TEXT NOT NULL,
  run_id TEXT,
  -- The run's status when the event was written (null for job events).
  status TEXT,
  -- run.log events point at their log row instead of copying it.
  log_seq INTEGER,
  -- The job state (job events), as JSON. Run events carry no copy of the run: readers join it.
  data TEXT
, attempt INTEGER);

-- table jobdeck_events_pruned
CREATE TABLE jobdeck_events_pruned (
  only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
  seq INTEGER NOT NULL
);

-- table jobdeck_instances
CREATE TABLE jobdeck_instances (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  version TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('api', 'worker', 'both')),
  concurrency INTEGER CHECK (concurrency >= 1),
  heartbeat_ms INTEGER NOT NULL CHECK (heartbeat_ms >= 1),
  started_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  -- Only an instance that executes runs has a concurrency.
  CHECK ((role = 'api') = (concurrency IS NULL))
);

-- table jobdeck_job_starts
CREATE TABLE jobdeck_job_starts (
  job TEXT NOT NULL,
  started_at INTEGER NOT NULL
);

-- table jobdeck_jobs
CREATE TABLE jobdeck_jobs (
  name TEXT PRIMARY KEY,
  enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  updated_at INTEGER NOT NULL
);

-- table jobdeck_migrations
CREATE TABLE jobdeck_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);

-- table jobdeck_run_items
CREATE TABLE jobdeck_run_items (
  run_id TEXT NOT NULL REFERENCES jobdeck_runs (id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  position INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
  error TEXT,
  PRIMARY KEY (run_id, key)
);

-- table jobdeck_run_logs
CREATE TABLE jobdeck_run_logs (
  run_id TEXT NOT NULL REFERENCES jobdeck_runs (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  level TEXT NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
  message TEXT NOT NULL,
  data TEXT,
  time INTEGER NOT NULL,
  PRIMARY KEY (run_id, seq)
);

-- table jobdeck_run_steps
CREATE TABLE jobdeck_run_steps (
  run_id TEXT NOT NULL REFERENCES jobdeck_runs (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  -- The order in which the run's steps first started.
  position INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
  result TEXT,
  error TEXT,
  -- The attempt that last ran it.
  attempt INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

-- table jobdeck_runs
CREATE TABLE "jobdeck_runs" (
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

-- trigger jobdeck_jobs_created
CREATE TRIGGER jobdeck_jobs_created AFTER INSERT ON jobdeck_jobs
BEGIN
  INSERT INTO jobdeck_events (name, job, data) VALUES ('job.updated', NEW.name,
    json_object('name', NEW.name, 'enabled', NEW.enabled, 'updated_at', NEW.updated_at));
END;

-- trigger jobdeck_jobs_updated
CREATE TRIGGER jobdeck_jobs_updated AFTER UPDATE ON jobdeck_jobs
BEGIN
  INSERT INTO jobdeck_events (name, job, data) VALUES ('job.updated', NEW.name,
    json_object('name', NEW.name, 'enabled', NEW.enabled, 'updated_at', NEW.updated_at));
END;

-- trigger jobdeck_logs_appended
CREATE TRIGGER jobdeck_logs_appended AFTER INSERT ON jobdeck_run_logs
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, log_seq)
  SELECT 'run.log', job, id, status, NEW.seq FROM jobdeck_runs WHERE id = NEW.run_id;
END;

-- trigger jobdeck_runs_changed
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

-- trigger jobdeck_runs_child_ended
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

-- trigger jobdeck_runs_created
CREATE TRIGGER jobdeck_runs_created AFTER INSERT ON jobdeck_runs
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status)
  VALUES ('run.created', NEW.job, NEW.id, NEW.status);
END;

-- trigger jobdeck_runs_transition
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

-- trigger jobdeck_steps_inserted
CREATE TRIGGER jobdeck_steps_inserted AFTER INSERT ON jobdeck_run_steps
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, attempt, data)
  SELECT 'run.step', r.job, r.id, r.status, NEW.attempt,
    json_object('name', NEW.name, 'status', NEW.status, 'attempt', NEW.attempt,
      'started_at', NEW.started_at, 'ended_at', NEW.ended_at, 'error', json(NEW.error))
  FROM jobdeck_runs r WHERE r.id = NEW.run_id;
END;

-- trigger jobdeck_steps_updated
CREATE TRIGGER jobdeck_steps_updated AFTER UPDATE ON jobdeck_run_steps
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, attempt, data)
  SELECT 'run.step', r.job, r.id, r.status, NEW.attempt,
    json_object('name', NEW.name, 'status', NEW.status, 'attempt', NEW.attempt,
      'started_at', NEW.started_at, 'ended_at', NEW.ended_at, 'error', json(NEW.error))
  FROM jobdeck_runs r WHERE r.id = NEW.run_id;
END;
