-- name: eventList
-- Each event with its run as stored now (input, result and attempts left out, the first attempt's
-- start kept) and its log line.
SELECT e.seq AS event_seq, e.at AS event_at, e.name AS event_name, e.job AS event_job,
  e.run_id AS event_run_id, e.status AS event_status, e.attempt AS event_attempt,
  e.data AS event_data, e.log_seq,
  l.level AS log_level, l.message AS log_message, l.data AS log_data, l.time AS log_time,
  r.id, r.job, r.status, r.progress, r.error, r.last_error, r.attempt, r.max_attempts, r.priority,
  r.run_at, r.created_at, r.started_at, r.finished_at, r.created_by, r.trigger, r.idempotency_key,
  r.worker_id, r.lease_expires_at, r.cancel_mode, r.cancel_reason, r.cancel_requested_by,
  r.cancel_requested_at, r.expire_at, r.retention_ms, r.retry_of, r.parent_id, r.stuck_at, r.stuck_attempt,
  json_extract(r.attempts, '$[0].startedAt') AS first_started_at
FROM jobdeck_events e
LEFT JOIN jobdeck_runs r ON r.id = e.run_id
LEFT JOIN jobdeck_run_logs l ON l.run_id = e.run_id AND l.seq = e.log_seq
WHERE e.seq > @afterSeq
ORDER BY e.seq
LIMIT @limit;

-- name: eventBounds
SELECT max(coalesce((SELECT max(seq) FROM jobdeck_events), 0), p.seq) AS last, p.seq AS pruned
FROM jobdeck_events_pruned p;

-- name: eventDeleteExpired
-- The oldest events first, by seq (no index on the time: events are written in time order); never
-- the newest, which numbers the next.
DELETE FROM jobdeck_events
WHERE seq <= (
  SELECT max(seq) FROM (SELECT seq, at FROM jobdeck_events ORDER BY seq LIMIT @limit)
  WHERE at < @cutoff
) AND seq < (SELECT max(seq) FROM jobdeck_events)
RETURNING seq;

-- name: eventPrunedThrough
UPDATE jobdeck_events_pruned SET seq = max(seq, @seq);
