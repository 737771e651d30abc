-- The event feed: what happens to runs and jobs, numbered across the database. Triggers write each
-- event in the transaction of its change: no event without its change, no change without its event.
CREATE TABLE jobdeck_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  -- Wall time of the write (ms), for retention and for measuring how late readers see it.
  at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
  name TEXT NOT NULL,
  job TEXT NOT NULL,
  run_id TEXT,
  -- The run's status when the event was written (null for job events).
  status TEXT,
  -- run.log events point at their log row instead of copying it.
  log_seq INTEGER,
  -- The run without input and result (run events), or the job state (job events), as JSON.
  data TEXT
);
CREATE INDEX jobdeck_events_at ON jobdeck_events (at);

-- The highest seq retention removed: a reader resuming from before it has missed events.
CREATE TABLE jobdeck_events_pruned (
  only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
  seq INTEGER NOT NULL
);
INSERT INTO jobdeck_events_pruned (only_row, seq) VALUES (1, 0);

-- A run as its events carry it: every column but input and result, in the shape of a runs row.
CREATE VIEW jobdeck_run_event_data AS
SELECT id, json_object(
  'id', id, 'job', job, 'status', status, 'progress', json(progress), 'error', json(error),
  'last_error', json(last_error), 'attempt', attempt, 'max_attempts', max_attempts,
  'priority', priority, 'run_at', run_at, 'created_at', created_at, 'started_at', started_at,
  'finished_at', finished_at, 'created_by', created_by, 'trigger', trigger,
  'idempotency_key', idempotency_key, 'worker_id', worker_id, 'lease_expires_at', lease_expires_at,
  'cancel_mode', cancel_mode, 'cancel_reason', cancel_reason,
  'cancel_requested_by', cancel_requested_by, 'cancel_requested_at', cancel_requested_at,
  'expire_at', expire_at, 'retention_ms', retention_ms, 'retry_of', retry_of
) AS data
FROM jobdeck_runs;

CREATE TRIGGER jobdeck_runs_created AFTER INSERT ON jobdeck_runs
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, data)
  SELECT 'run.created', NEW.job, NEW.id, NEW.status, data
  FROM jobdeck_run_event_data WHERE id = NEW.id;
END;

CREATE TRIGGER jobdeck_runs_changed AFTER UPDATE OF status, progress ON jobdeck_runs
WHEN OLD.status IS NOT NEW.status OR OLD.progress IS NOT NEW.progress
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, data)
  SELECT e.name, NEW.job, NEW.id, NEW.status, d.data
  FROM (SELECT CASE
    WHEN NEW.status = OLD.status THEN 'run.progress'
    WHEN NEW.status = 'running' THEN 'run.started'
    WHEN NEW.status = 'cancelling' THEN 'run.cancelling'
    WHEN NEW.status IN ('completed', 'partial', 'failed', 'cancelled') THEN 'run.finished'
    WHEN OLD.status IN ('running', 'cancelling') THEN 'run.retrying'
  END AS name) e
  JOIN jobdeck_run_event_data d ON d.id = NEW.id
  WHERE e.name IS NOT NULL;
END;

CREATE TRIGGER jobdeck_logs_appended AFTER INSERT ON jobdeck_run_logs
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, log_seq)
  SELECT 'run.log', job, id, status, NEW.seq FROM jobdeck_runs WHERE id = NEW.run_id;
END;

-- An upsert of a job fires one of the two.
CREATE TRIGGER jobdeck_jobs_created AFTER INSERT ON jobdeck_jobs
BEGIN
  INSERT INTO jobdeck_events (name, job, data) VALUES ('job.updated', NEW.name,
    json_object('name', NEW.name, 'enabled', NEW.enabled, 'updated_at', NEW.updated_at));
END;

CREATE TRIGGER jobdeck_jobs_updated AFTER UPDATE ON jobdeck_jobs
BEGIN
  INSERT INTO jobdeck_events (name, job, data) VALUES ('job.updated', NEW.name,
    json_object('name', NEW.name, 'enabled', NEW.enabled, 'updated_at', NEW.updated_at));
END;
