-- The event feed: what happens to runs and jobs, numbered across the database. Triggers write each
-- event in the transaction of its change: no event without its change, no change without its event.
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
);

-- The highest seq retention removed: a reader resuming from before it has missed events.
CREATE TABLE jobdeck_events_pruned (
  only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
  seq INTEGER NOT NULL
);
INSERT INTO jobdeck_events_pruned (only_row, seq) VALUES (1, 0);

CREATE TRIGGER jobdeck_runs_created AFTER INSERT ON jobdeck_runs
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status)
  VALUES ('run.created', NEW.job, NEW.id, NEW.status);
END;

CREATE TRIGGER jobdeck_runs_changed AFTER UPDATE OF status, progress ON jobdeck_runs
WHEN OLD.status IS NOT NEW.status OR OLD.progress IS NOT NEW.progress
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status)
  SELECT e.name, NEW.job, NEW.id, NEW.status
  FROM (SELECT CASE
    WHEN NEW.status = OLD.status THEN 'run.progress'
    WHEN NEW.status = 'running' THEN 'run.started'
    WHEN NEW.status = 'cancelling' THEN 'run.cancelling'
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
