-- name: runStatsSnapshot
-- The buckets and the unfinished runs are read from one snapshot.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;

-- name: runStatsWithoutJit
-- The planner's guess for the per-cell scans is large enough to start JIT compilation, which
-- costs more than the whole query.
SET LOCAL jit = off;

-- name: runStats
-- Runs created, started and ended in [@from, @to), per bucket of @bucketMs (aligned to the epoch)
-- and job. Each cell (a bucket of one job) is three index-only scans of the job's time indexes:
-- no sort of the whole window, which costs three times as much. The creation and start indexes
-- leave out running and cancelling runs (a claim adds no entry to them): those few are read once,
-- from the lease index, and added to their cells. Percentiles are nearest-rank, the value at rank
-- ceil(p * n) of the n values in ascending order (percentile_disc); every backend gives the same
-- figures.
WITH RECURSIVE jobs (job) AS (
  -- The distinct jobs, one index seek each.
  SELECT min(job) FROM jobdeck_runs
  UNION ALL
  SELECT (SELECT min(job) FROM jobdeck_runs WHERE job > jobs.job) FROM jobs
  WHERE jobs.job IS NOT NULL
), held AS MATERIALIZED (
  SELECT job, created_at, started_at, run_at FROM jobdeck_runs
  WHERE status IN ('running', 'cancelling')
), held_created AS (
  SELECT job, @from::bigint + (created_at - @from::bigint) / @bucketMs::bigint * @bucketMs::bigint AS start,
    count(*) AS n
  FROM held WHERE created_at >= @from::bigint AND created_at < @to::bigint
  GROUP BY 1, 2
), held_started AS (
  SELECT job, @from::bigint + (started_at - @from::bigint) / @bucketMs::bigint * @bucketMs::bigint AS start,
    array_agg(started_at - greatest(run_at, created_at)) AS waits
  FROM held WHERE started_at >= @from::bigint AND started_at < @to::bigint
  GROUP BY 1, 2
)
SELECT b.start AS bucket, j.job, c.n + coalesce(hc.n, 0) AS created, s.n AS started,
  e.completed, e.partial, e.failed, e.cancelled, e.duration_p50, e.duration_p95,
  s.wait_p50, s.wait_p95
FROM generate_series(@from::bigint, @to::bigint - @bucketMs::bigint, @bucketMs::bigint) AS b (start)
CROSS JOIN jobs j
LEFT JOIN held_created hc ON hc.job = j.job AND hc.start = b.start
LEFT JOIN held_started hs ON hs.job = j.job AND hs.start = b.start
CROSS JOIN LATERAL (
  SELECT count(*) AS n FROM jobdeck_runs r
  WHERE r.job = j.job AND r.status NOT IN ('running', 'cancelling')
    AND r.created_at >= b.start AND r.created_at < b.start + @bucketMs::bigint
) c
CROSS JOIN LATERAL (
  SELECT count(*) AS n,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY w.wait) AS wait_p50,
    percentile_disc(0.95) WITHIN GROUP (ORDER BY w.wait) AS wait_p95
  FROM (
    SELECT r.started_at - greatest(r.run_at, r.created_at) AS wait FROM jobdeck_runs r
    WHERE r.job = j.job AND r.status NOT IN ('running', 'cancelling')
      AND r.started_at >= b.start AND r.started_at < b.start + @bucketMs::bigint
    UNION ALL
    SELECT wait FROM unnest(hs.waits) AS wait
  ) w
) s
CROSS JOIN LATERAL (
  -- Runs cancelled before they started have no duration: percentile_disc leaves the nulls out.
  SELECT count(*) FILTER (WHERE r.status = 'completed') AS completed,
    count(*) FILTER (WHERE r.status = 'partial') AS partial,
    count(*) FILTER (WHERE r.status = 'failed') AS failed,
    count(*) FILTER (WHERE r.status = 'cancelled') AS cancelled,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY r.finished_at - r.started_at) AS duration_p50,
    percentile_disc(0.95) WITHIN GROUP (ORDER BY r.finished_at - r.started_at) AS duration_p95
  FROM jobdeck_runs r
  WHERE r.job = j.job AND r.finished_at >= b.start AND r.finished_at < b.start + @bucketMs::bigint
) e
WHERE j.job IS NOT NULL
  AND c.n + coalesce(hc.n, 0) + s.n + e.completed + e.partial + e.failed + e.cancelled > 0
ORDER BY b.start, j.job;

-- name: runOldestDue
-- The waiting run that has been due longest (pending, or scheduled with its time come), by
-- run_at. The claim-order index holds waiting runs by priority, then run_at: the first run of each
-- priority is its earliest due, so a seek per priority finds them.
WITH RECURSIVE priorities (priority) AS (
  SELECT max(priority) FROM jobdeck_runs
  WHERE status IN ('pending', 'scheduled')
  UNION ALL
  SELECT (SELECT max(priority) FROM jobdeck_runs
    WHERE status IN ('pending', 'scheduled') AND priority < priorities.priority)
  FROM priorities WHERE priority IS NOT NULL
),
firsts (id) AS (
  SELECT (SELECT id FROM jobdeck_runs
    WHERE status IN ('pending', 'scheduled') AND priority = p.priority
    ORDER BY run_at, id LIMIT 1)
  FROM priorities p WHERE p.priority IS NOT NULL
)
SELECT r.id, r.job, r.run_at AS due_at
FROM firsts f JOIN jobdeck_runs r ON r.id = f.id
WHERE r.run_at <= @now::bigint
ORDER BY r.run_at, r.id
LIMIT 1;
