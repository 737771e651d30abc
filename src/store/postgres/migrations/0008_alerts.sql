-- Stuck runs and alerts.
--
-- A run still running (or cancelling) past its job's stuckAfter is marked once per attempt: the
-- attempt it was marked in and when. The statement that marks it writes its run.stuck event.
ALTER TABLE jobdeck_runs ADD COLUMN stuck_at bigint;
ALTER TABLE jobdeck_runs ADD COLUMN stuck_attempt integer;

-- One row per rule and what it fired on (an event's seq, a backlogged run): whatever the number of
-- instances that see the event, the first insert wins and the others find it.
CREATE TABLE jobdeck_alerts (
  id text PRIMARY KEY,
  rule text NOT NULL,
  key text NOT NULL,
  event text NOT NULL,
  job text NOT NULL,
  run_id text,
  severity text NOT NULL,
  message text NOT NULL,
  -- The webhook body: event, run, rule and link, as sent.
  payload jsonb NOT NULL,
  -- Within the cooldown of its rule and job: recorded, never sent.
  suppressed boolean NOT NULL,
  created_at bigint NOT NULL,
  UNIQUE (rule, key)
);
CREATE INDEX jobdeck_alerts_created ON jobdeck_alerts (created_at);

-- Until when a rule stays quiet for a job; claimed by a conditional upsert.
CREATE TABLE jobdeck_alert_cooldowns (
  rule text NOT NULL,
  job text NOT NULL,
  until_at bigint NOT NULL,
  PRIMARY KEY (rule, job)
);

-- One delivery per alert and channel, retried with back-off by any instance that knows the
-- channel: a claim takes a lease, and only the lease holder records the attempt.
CREATE TABLE jobdeck_alert_deliveries (
  alert_id text NOT NULL REFERENCES jobdeck_alerts (id) ON DELETE CASCADE,
  channel text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  -- Each attempt: {at, ok, durationMs, status?, error?}, oldest first.
  attempts jsonb NOT NULL DEFAULT '[]',
  attempt_count integer NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL,
  lease_owner text,
  lease_expires_at bigint,
  finished_at bigint,
  PRIMARY KEY (alert_id, channel)
);
CREATE INDEX jobdeck_alert_deliveries_due ON jobdeck_alert_deliveries (next_attempt_at)
WHERE status = 'pending';

-- The run's attempt when an event was written: a reader of run.retrying learns which attempt
-- failed even after the next one started.
ALTER TABLE jobdeck_events ADD COLUMN attempt integer;

CREATE OR REPLACE FUNCTION jobdeck_runs_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO jobdeck_events (name, job, run_id, status)
    SELECT 'run.created', n.job, n.id, n.status FROM new_runs n ORDER BY n.created_at, n.id;
  ELSE
    INSERT INTO jobdeck_events (name, job, run_id, status, attempt)
    SELECT e.name, n.job, n.id, n.status, n.attempt
    FROM new_runs n
    JOIN old_runs o ON o.id = n.id
    CROSS JOIN LATERAL (
      SELECT CASE
        WHEN n.status = o.status THEN
          CASE WHEN n.progress IS DISTINCT FROM o.progress THEN 'run.progress' END
        WHEN n.status = 'running' THEN 'run.started'
        WHEN n.status = 'cancelling' THEN 'run.cancelling'
        WHEN n.status IN ('completed', 'partial', 'failed', 'cancelled') THEN 'run.finished'
        WHEN o.status IN ('running', 'cancelling') THEN 'run.retrying'
      END AS name
    ) e
    WHERE e.name IS NOT NULL
    ORDER BY n.id;
  END IF;
  RETURN NULL;
END $$;
