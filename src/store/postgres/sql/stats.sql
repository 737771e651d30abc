-- name: runStats
-- Runs created, started and ended in [@from, @to), per bucket of @bucketMs (aligned to the epoch)
-- and job. Percentiles are nearest-rank, the value at rank ceil(p * n) of the n values in
-- ascending order (percentile_disc), so every backend gives the same figures.
WITH
created AS (
  SELECT created_at - created_at % @bucketMs::bigint AS bucket, job, count(*) AS n
  FROM jobdeck_runs
  WHERE created_at >= @from::bigint AND created_at < @to::bigint
  GROUP BY 1, 2
),
started AS (
  SELECT started_at - started_at % @bucketMs::bigint AS bucket, job, count(*) AS n,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY started_at - greatest(run_at, created_at)) AS wait_p50,
    percentile_disc(0.95) WITHIN GROUP (ORDER BY started_at - greatest(run_at, created_at)) AS wait_p95
  FROM jobdeck_runs
  WHERE started_at >= @from::bigint AND started_at < @to::bigint
  GROUP BY 1, 2
),
ended AS (
  -- Runs cancelled before they started have no duration: percentile_disc leaves the nulls out.
  SELECT finished_at - finished_at % @bucketMs::bigint AS bucket, job,
    count(*) FILTER (WHERE status = 'completed') AS completed,
    count(*) FILTER (WHERE status = 'partial') AS partial,
    count(*) FILTER (WHERE status = 'failed') AS failed,
    count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY finished_at - started_at) AS duration_p50,
    percentile_disc(0.95) WITHIN GROUP (ORDER BY finished_at - started_at) AS duration_p95
  FROM jobdeck_runs
  WHERE finished_at >= @from::bigint AND finished_at < @to::bigint
  GROUP BY 1, 2
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
  e.duration_p50, e.duration_p95, s.wait_p50, s.wait_p95
FROM keys k
LEFT JOIN created c ON c.bucket = k.bucket AND c.job = k.job
LEFT JOIN started s ON s.bucket = k.bucket AND s.job = k.job
LEFT JOIN ended e ON e.bucket = k.bucket AND e.job = k.job
ORDER BY k.bucket, k.job;

-- name: runOldestDue
-- The waiting run that has been due longest (pending, or scheduled and due but not yet promoted).
SELECT id, job, greatest(run_at, created_at) AS due_at FROM jobdeck_runs
WHERE status IN ('pending', 'scheduled') AND greatest(run_at, created_at) <= @now::bigint
ORDER BY greatest(run_at, created_at), id
LIMIT 1;
