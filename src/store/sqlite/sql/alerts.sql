-- name: alertInsert
-- The first instance to record what a rule fired on wins; the others find the row and stop.
INSERT INTO jobdeck_alerts (
  id, rule, key, event, job, run_id, severity, message, payload, suppressed, created_at
) VALUES (
  @id, @rule, @key, @event, @job, @runId, @severity, @message, @payload, 0, @now
)
ON CONFLICT (rule, key) DO NOTHING
RETURNING *;

-- name: alertCooldownClaim
INSERT INTO jobdeck_alert_cooldowns AS c (rule, job, until_at)
VALUES (@rule, @job, @at + @cooldownMs)
ON CONFLICT (rule, job) DO UPDATE SET until_at = excluded.until_at
WHERE c.until_at <= @at
RETURNING until_at;

-- name: alertSuppress
UPDATE jobdeck_alerts SET suppressed = 1 WHERE id = @id;

-- name: alertDeliveryInsert
INSERT INTO jobdeck_alert_deliveries (alert_id, channel, status, next_attempt_at)
SELECT @id, value, 'pending', @at FROM json_each(@channels);

-- name: alertList
SELECT * FROM jobdeck_alerts
WHERE @before IS NULL OR id < @before
ORDER BY id DESC
LIMIT @limit;

-- name: alertDeliveryList
SELECT * FROM jobdeck_alert_deliveries
WHERE alert_id IN (SELECT value FROM json_each(@ids))
ORDER BY alert_id, channel;

-- name: alertDeliveryClaim
-- Due pending deliveries nobody holds (or whose holder's lease ran out), for channels the claimer
-- knows.
UPDATE jobdeck_alert_deliveries
SET lease_owner = @owner, lease_expires_at = @now + @leaseMs
WHERE rowid IN (
  SELECT rowid FROM jobdeck_alert_deliveries
  WHERE status = 'pending' AND next_attempt_at <= @now
    AND (lease_expires_at IS NULL OR lease_expires_at <= @now)
    AND channel IN (SELECT value FROM json_each(@channels))
  ORDER BY next_attempt_at
  LIMIT @limit
)
RETURNING alert_id, channel, attempt_count;

-- name: alertGet
SELECT * FROM jobdeck_alerts WHERE id = @id;

-- name: alertDeliveryRecord
-- Only the lease holder writes; the lease ends with its attempt.
UPDATE jobdeck_alert_deliveries
SET attempts = json_insert(attempts, '$[#]', json(@attempt)),
    attempt_count = attempt_count + 1,
    status = @status,
    next_attempt_at = CASE WHEN @status = 'pending' THEN @now + @retryInMs ELSE next_attempt_at END,
    finished_at = CASE WHEN @status = 'pending' THEN NULL ELSE @now END,
    lease_owner = NULL, lease_expires_at = NULL
WHERE alert_id = @alertId AND channel = @channel AND lease_owner = @owner AND status = 'pending';

-- name: alertDeleteExpired
DELETE FROM jobdeck_alerts WHERE id IN (
  SELECT id FROM jobdeck_alerts WHERE created_at < @cutoff ORDER BY created_at LIMIT @limit
);

-- name: runListStuck
-- The attempts running past their job's limit (`limits`: [[job, afterMs or null], …]) not
-- marked yet.
SELECT r.id FROM jobdeck_runs r
LEFT JOIN (
  SELECT json_extract(value, '$[0]') AS job, json_extract(value, '$[1]') AS after_ms
  FROM json_each(@limits)
) l ON l.job = r.job
WHERE r.status IN ('running', 'cancelling') AND r.started_at IS NOT NULL
  AND r.stuck_attempt IS NOT r.attempt
  AND r.started_at <= @now - CASE WHEN l.job IS NULL THEN @defaultAfterMs ELSE l.after_ms END
ORDER BY r.started_at
LIMIT @limit;

-- name: runMarkStuck
UPDATE jobdeck_runs SET stuck_at = @now, stuck_attempt = attempt
WHERE id = @id AND status IN ('running', 'cancelling') AND stuck_attempt IS NOT attempt
RETURNING *;

-- name: eventInsertRunStuck
-- Written in the transaction that marks the run.
INSERT INTO jobdeck_events (name, job, run_id, status, attempt)
VALUES ('run.stuck', @job, @id, @status, @attempt);

-- name: runOldestDueByJob
-- Per job, the waiting run due longest, among those due before the threshold (SQLite takes the
-- other columns from the row of the min).
SELECT job, id, min(run_at) AS due_at FROM jobdeck_runs
WHERE status IN ('pending', 'scheduled') AND run_at <= @dueBefore
GROUP BY job;
