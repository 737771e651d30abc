-- name: eventList
SELECT e.seq, e.at, e.name, e.job, e.run_id, e.status, e.data, e.log_seq,
  l.level AS log_level, l.message AS log_message, l.data AS log_data, l.time AS log_time
FROM jobdeck_events e
LEFT JOIN jobdeck_run_logs l ON l.run_id = e.run_id AND l.seq = e.log_seq
WHERE e.seq > @afterSeq
ORDER BY e.seq
LIMIT @limit;

-- name: eventBounds
SELECT max(coalesce((SELECT max(seq) FROM jobdeck_events), 0), p.seq) AS last, p.seq AS pruned
FROM jobdeck_events_pruned p;

-- name: eventDeleteExpired
DELETE FROM jobdeck_events
WHERE seq IN (SELECT seq FROM jobdeck_events WHERE at < @cutoff ORDER BY seq LIMIT @limit)
RETURNING seq;

-- name: eventPrunedThrough
UPDATE jobdeck_events_pruned SET seq = max(seq, @seq);
