-- Stuck runs and alerts.
--
-- A run still running (or cancelling) past its job's stuckAfter is marked once per attempt: the
-- attempt it was marked in and when. The transaction that marks it writes its run.stuck event.
ALTER TABLE jobdeck_runs ADD COLUMN stuck_at INTEGER;
ALTER TABLE jobdeck_runs ADD COLUMN stuck_attempt INTEGER;

-- One row per rule and what it fired on (an event's seq, a backlogged run): whatever the number of
-- instances that see the event, the first insert wins and the others find it.
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
CREATE INDEX jobdeck_alerts_created ON jobdeck_alerts (created_at);

-- Until when a rule stays quiet for a job; claimed by a conditional upsert.
CREATE TABLE jobdeck_alert_cooldowns (
  rule TEXT NOT NULL,
  job TEXT NOT NULL,
  until_at INTEGER NOT NULL,
  PRIMARY KEY (rule, job)
);

-- One delivery per alert and channel, retried with back-off by any instance that knows the
-- channel: a claim takes a lease, and only the lease holder records the attempt.
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
CREATE INDEX jobdeck_alert_deliveries_due ON jobdeck_alert_deliveries (next_attempt_at)
WHERE status = 'pending';

-- The run's attempt when an event was written: a reader of run.retrying learns which attempt
-- failed even after the next one started.
ALTER TABLE jobdeck_events ADD COLUMN attempt INTEGER;

DROP TRIGGER jobdeck_runs_changed;
CREATE TRIGGER jobdeck_runs_changed AFTER UPDATE OF status, progress ON jobdeck_runs
WHEN OLD.status IS NOT NEW.status OR OLD.progress IS NOT NEW.progress
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, attempt)
  SELECT e.name, NEW.job, NEW.id, NEW.status, NEW.attempt
  FROM (SELECT CASE
    WHEN NEW.status = OLD.status THEN 'run.progress'
    WHEN NEW.status = 'running' THEN 'run.started'
    WHEN NEW.status = 'cancelling' THEN 'run.cancelling'
    WHEN NEW.status IN ('completed', 'partial', 'failed', 'cancelled') THEN 'run.finished'
    WHEN OLD.status IN ('running', 'cancelling') THEN 'run.retrying'
  END AS name) e
  WHERE e.name IS NOT NULL;
END;
