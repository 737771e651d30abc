-- name: eventList
-- Each event with its run as stored now (input, result and attempts left out, the first attempt's
-- start kept) and its log line.
-- A row holds the events of one statement; event number = row seq * 1024 + place. The rows from
-- the one holding @afterSeq on, with the snapshot's bounds: a missing row seq below xmax may
-- belong to a transaction still open.
SELECT e.seq AS row_seq, e.seq * 1024 + u.place - 1 AS event_seq, e.at AS event_at,
  u.name AS event_name, u.job AS event_job, u.run_id AS event_run_id, u.status AS event_status,
  u.attempt AS event_attempt, e.data AS event_data, u.log_seq,
  l.level AS log_level, l.message AS log_message, l.data AS log_data, l.time AS log_time,
  r.id, r.job, r.status, r.progress, r.error, r.last_error, r.attempt, r.max_attempts, r.priority,
  r.run_at, r.created_at, r.started_at, r.finished_at, r.created_by, r.trigger, r.idempotency_key,
  r.worker_id, r.lease_expires_at, r.cancel_mode, r.cancel_reason, r.cancel_requested_by,
  r.cancel_requested_at, r.expire_at, r.retention_ms, r.retry_of, r.parent_id, r.stuck_at, r.stuck_attempt,
  (r.attempts->0->>'startedAt')::bigint AS first_started_at,
  pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS snapshot_xmin,
  pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS snapshot_xmax,
  (SELECT seq FROM jobdeck_events_pruned) AS pruned_seq
FROM (
  -- One more than the limit: the first row may be the one whose events were read up to @afterSeq.
  SELECT * FROM jobdeck_events WHERE seq >= @afterSeq::bigint / 1024 ORDER BY seq
  LIMIT @limit::int + 1
) e
CROSS JOIN LATERAL unnest(e.names, e.jobs, e.run_ids, e.statuses, e.attempts, e.log_seqs)
  WITH ORDINALITY AS u (name, job, run_id, status, attempt, log_seq, place)
LEFT JOIN jobdeck_runs r ON r.id = u.run_id
LEFT JOIN jobdeck_run_logs l ON l.run_id = u.run_id AND l.seq = u.log_seq
WHERE e.seq * 1024 + u.place - 1 > @afterSeq
ORDER BY e.seq, u.place
LIMIT @limit;

-- name: eventBounds
-- The number of the newest event, and of the newest retention removed.
SELECT GREATEST(
    coalesce((SELECT seq * 1024 + cardinality(names) - 1 FROM jobdeck_events ORDER BY seq DESC LIMIT 1), 0),
    p.seq
  ) AS last, p.seq AS pruned
FROM jobdeck_events_pruned p;

-- name: eventDeleteExpired
WITH deleted AS (
  -- The oldest rows first, by seq (no index on the time: rows are written in time order); never
  -- the newest, which shows how far the numbers went.
  DELETE FROM jobdeck_events
  WHERE seq <= (
    SELECT max(seq) FROM (SELECT seq, at FROM jobdeck_events ORDER BY seq LIMIT @limit) oldest
    WHERE at < jobdeck_now_ms(@now) - @retentionMs
  ) AND seq < (SELECT max(seq) FROM jobdeck_events)
  RETURNING seq, cardinality(names) AS events
), pruned AS (
  UPDATE jobdeck_events_pruned
  SET seq = GREATEST(seq, (SELECT max(seq * 1024 + events - 1) FROM deleted))
  WHERE EXISTS (SELECT 1 FROM deleted)
  RETURNING seq
)
SELECT (SELECT coalesce(sum(events), 0) FROM deleted)::int AS n,
  (SELECT count(*) FROM pruned)::int AS p;
