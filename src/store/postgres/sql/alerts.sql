-- name: alertInsert
-- The first instance to record what a rule fired on wins; the others find the row and stop.
INSERT INTO jobdeck_alerts (
  id, rule, key, event, job, run_id, severity, message, payload, suppressed, created_at
) VALUES (
  @id, @rule, @key, @event, @job, @runId, @severity, @message, @payload::jsonb, false,
  jobdeck_now_ms(@now)
)
ON CONFLICT (rule, key) DO NOTHING
RETURNING *;

-- name: alertCooldownClaim
-- Row-locked: of two alerts of one rule and job at once, only the first finds the cooldown past.
INSERT INTO jobdeck_alert_cooldowns AS c (rule, job, until_at)
VALUES (@rule, @job, @at::bigint + @cooldownMs::bigint)
ON CONFLICT (rule, job) DO UPDATE SET until_at = excluded.until_at
WHERE c.until_at <= @at::bigint
RETURNING until_at;

-- name: alertSuppress
UPDATE jobdeck_alerts SET suppressed = true WHERE id = @id;

-- name: alertDeliveryInsert
INSERT INTO jobdeck_alert_deliveries (alert_id, channel, status, next_attempt_at)
SELECT @id, channel, 'pending', @at::bigint FROM unnest(@channels::text[]) AS channel;

-- name: alertList
SELECT * FROM jobdeck_alerts
WHERE @before::text IS NULL OR id < @before::text
ORDER BY id DESC
LIMIT @limit;

-- name: alertDeliveryList
SELECT * FROM jobdeck_alert_deliveries WHERE alert_id = ANY (@ids::text[]) ORDER BY alert_id, channel;

-- name: alertDeliveryClaim
-- Due pending deliveries nobody holds (or whose holder's lease ran out), for channels the claimer
-- knows; claimers skip each other's rows.
WITH due AS (
  SELECT alert_id, channel FROM jobdeck_alert_deliveries
  WHERE status = 'pending' AND next_attempt_at <= jobdeck_now_ms(@now)
    AND (lease_expires_at IS NULL OR lease_expires_at <= jobdeck_now_ms(@now))
    AND channel = ANY (@channels::text[])
  ORDER BY next_attempt_at
  LIMIT @limit
  FOR UPDATE SKIP LOCKED
)
UPDATE jobdeck_alert_deliveries d
SET lease_owner = @owner, lease_expires_at = jobdeck_now_ms(@now) + @leaseMs::bigint
FROM due, jobdeck_alerts a
WHERE d.alert_id = due.alert_id AND d.channel = due.channel AND a.id = d.alert_id
RETURNING d.alert_id, d.channel, d.attempt_count, a.rule, a.event, a.job, a.run_id, a.severity,
  a.message, a.payload;

-- name: alertDeliveryRecord
-- Only the lease holder writes; the lease ends with its attempt.
UPDATE jobdeck_alert_deliveries
SET attempts = attempts || jsonb_build_array(@attempt::jsonb),
    attempt_count = attempt_count + 1,
    status = @status::text,
    next_attempt_at = CASE WHEN @status::text = 'pending'
      THEN jobdeck_now_ms(@now) + @retryInMs::bigint ELSE next_attempt_at END,
    finished_at = CASE WHEN @status::text = 'pending' THEN NULL ELSE jobdeck_now_ms(@now) END,
    lease_owner = NULL, lease_expires_at = NULL
WHERE alert_id = @alertId AND channel = @channel AND lease_owner = @owner AND status = 'pending';

-- name: alertDeleteExpired
DELETE FROM jobdeck_alerts WHERE id IN (
  SELECT id FROM jobdeck_alerts WHERE created_at < jobdeck_now_ms(@now) - @retentionMs::bigint
  ORDER BY created_at LIMIT @limit
);

-- name: runMarkStuck
-- The attempts running past their job's limit, marked once each: a run another statement holds
-- is left for the next check, and the update re-checks the mark. Its run.stuck event is written
-- by the same statement.
WITH limits AS (
  SELECT * FROM unnest(@jobs::text[], @afterMs::bigint[]) AS l (job, after_ms)
), due AS (
  SELECT r.id FROM jobdeck_runs r LEFT JOIN limits l ON l.job = r.job
  WHERE r.status IN ('running', 'cancelling') AND r.started_at IS NOT NULL
    AND r.stuck_attempt IS DISTINCT FROM r.attempt
    AND r.started_at <= jobdeck_now_ms(@now)
      - CASE WHEN l.job IS NULL THEN @defaultAfterMs::bigint ELSE l.after_ms END
  ORDER BY r.started_at
  LIMIT @limit
  FOR UPDATE OF r SKIP LOCKED
), marked AS (
  UPDATE jobdeck_runs r SET stuck_at = jobdeck_now_ms(@now), stuck_attempt = r.attempt
  FROM due
  WHERE r.id = due.id AND r.status IN ('running', 'cancelling')
    AND r.stuck_attempt IS DISTINCT FROM r.attempt
  RETURNING r.*
), events AS (
  -- One feed row for the statement, as the runs' triggers write (at most 1,024 events a row).
  INSERT INTO jobdeck_events (names, jobs, run_ids, statuses, attempts)
  SELECT array_agg('run.stuck'::text ORDER BY place), array_agg(job ORDER BY place),
    array_agg(id ORDER BY place), array_agg(status ORDER BY place),
    array_agg(attempt ORDER BY place)
  FROM (SELECT m.job, m.id, m.status, m.attempt, row_number() OVER (ORDER BY m.id) - 1 AS place
    FROM marked m) e
  GROUP BY place / 1024
  ORDER BY place / 1024
)
SELECT * FROM marked;

-- name: runOldestDueByJob
-- Per job, the waiting run due longest, among those due before the threshold.
SELECT DISTINCT ON (job) job, id, run_at AS due_at FROM jobdeck_runs
WHERE status IN ('pending', 'scheduled') AND run_at <= @dueBefore::bigint
ORDER BY job, run_at, id;
