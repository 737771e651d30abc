-- name: runStats
-- Runs created, started and ended in [@from, @to), per bucket of @bucketMs (aligned to the epoch)
-- and job. Percentiles are nearest-rank, the value at rank ceil(p * n) of the n values in
-- ascending order (PostgreSQL's percentile_disc), so every backend gives the same figures. Each
-- group's values are sorted by an ordered aggregate and the ranks read from that array: about
-- three times faster here than ranking every row with window functions.
WITH
created AS (
  SELECT created_at - created_at % @bucketMs AS bucket, job, count(*) AS n
  FROM jobdeck_runs
  WHERE created_at >= @from AND created_at < @to
  GROUP BY bucket, job
),
started AS (
  SELECT bucket, job, count(*) AS n, json_group_array(wait ORDER BY wait) AS waits
  FROM (
    SELECT started_at - started_at % @bucketMs AS bucket, job,
      started_at - max(run_at, created_at) AS wait
    FROM jobdeck_runs
    WHERE started_at >= @from AND started_at < @to
  )
  GROUP BY bucket, job
),
ended AS (
  -- Runs cancelled before they started have no duration.
  SELECT bucket, job,
    sum(status = 'completed') AS completed,
    sum(status = 'partial') AS partial,
    sum(status = 'failed') AS failed,
    sum(status = 'cancelled') AS cancelled,
    count(duration) AS timed,
    json_group_array(duration ORDER BY duration) FILTER (WHERE duration IS NOT NULL) AS durations
  FROM (
    SELECT finished_at - finished_at % @bucketMs AS bucket, job, status,
      finished_at - started_at AS duration
    FROM jobdeck_runs
    WHERE finished_at >= @from AND finished_at < @to
  )
  GROUP BY bucket, job
),
keys AS (
  SELECT bucket, job FROM created
  UNION SELECT bucket, job FROM started
  UNION SELECT bucket, job FROM ended
)
SELECT k.bucket, k.job,
  coalesce(c.n, 0) AS created,
  coalesce(s.n, 0) AS started,
  coalesce(e.completed, 0) AS completed,
  coalesce(e.partial, 0) AS partial,
  coalesce(e.failed, 0) AS failed,
  coalesce(e.cancelled, 0) AS cancelled,
  CASE WHEN e.timed > 0 THEN e.durations ->> ((e.timed + 1) / 2 - 1) END AS duration_p50,
  CASE WHEN e.timed > 0 THEN e.durations ->> ((e.timed * 95 + 99) / 100 - 1) END AS duration_p95,
  CASE WHEN s.n > 0 THEN s.waits ->> ((s.n + 1) / 2 - 1) END AS wait_p50,
  CASE WHEN s.n > 0 THEN s.waits ->> ((s.n * 95 + 99) / 100 - 1) END AS wait_p95
FROM keys k
LEFT JOIN created c ON c.bucket = k.bucket AND c.job = k.job
LEFT JOIN started s ON s.bucket = k.bucket AND s.job = k.job
LEFT JOIN ended e ON e.bucket = k.bucket AND e.job = k.job
ORDER BY k.bucket, k.job;

-- name: runOldestDue
-- The waiting run that has been due longest (pending, or scheduled and due but not yet promoted).
SELECT id, job, max(run_at, created_at) AS due_at FROM jobdeck_runs
WHERE status IN ('pending', 'scheduled') AND max(run_at, created_at) <= @now
ORDER BY max(run_at, created_at), id
LIMIT 1;
