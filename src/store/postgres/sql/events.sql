-- name: eventList
-- With the snapshot's bounds: a missing seq below xmax may belong to a transaction still open.
SELECT e.seq, e.at, e.name, e.job, e.run_id, e.status, e.data, e.log_seq,
  l.level AS log_level, l.message AS log_message, l.data AS log_data, l.time AS log_time,
  pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS snapshot_xmin,
  pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS snapshot_xmax
FROM jobdeck_events e
LEFT JOIN jobdeck_run_logs l ON l.run_id = e.run_id AND l.seq = e.log_seq
WHERE e.seq > @afterSeq
ORDER BY e.seq
LIMIT @limit;

-- name: eventBounds
SELECT GREATEST(coalesce((SELECT max(seq) FROM jobdeck_events), 0), p.seq) AS last, p.seq AS pruned
FROM jobdeck_events_pruned p;

-- name: eventDeleteExpired
WITH deleted AS (
  DELETE FROM jobdeck_events
  WHERE seq IN (
    SELECT seq FROM jobdeck_events
    WHERE at < jobdeck_now_ms(@now) - @retentionMs
    ORDER BY seq LIMIT @limit
  )
  RETURNING seq
), pruned AS (
  UPDATE jobdeck_events_pruned SET seq = GREATEST(seq, (SELECT max(seq) FROM deleted))
  WHERE EXISTS (SELECT 1 FROM deleted)
  RETURNING seq
)
SELECT (SELECT count(*) FROM deleted)::int AS n, (SELECT count(*) FROM pruned)::int AS p;
