-- name: runStats
-- Runs created, started and ended in [@from, @to), per bucket of @bucketMs (aligned to the epoch)
-- and job. Each cell (a bucket of one job) reads its ranges of the job's time indexes: no sort of
-- the whole window, which costs SQLite three times as much. Percentiles are nearest-rank, the value
-- at rank ceil(p * n) of the n values in ascending order (PostgreSQL's percentile_disc), read from
-- the cell's values sorted by an ordered aggregate.
WITH RECURSIVE
jobs (job) AS (
  -- The distinct jobs, one index seek each.
  SELECT min(job) FROM jobdeck_runs
  UNION ALL
  SELECT (SELECT min(job) FROM jobdeck_runs WHERE job > jobs.job) FROM jobs
  WHERE jobs.job IS NOT NULL
),
buckets (start) AS (
  SELECT @from
  UNION ALL
  SELECT start + @bucketMs FROM buckets WHERE start + @bucketMs < @to
),
cells AS MATERIALIZED (
  SELECT b.start AS bucket, j.job,
    (SELECT count(*) FROM jobdeck_runs r INDEXED BY jobdeck_runs_job_created
      WHERE r.job = j.job AND r.created_at >= b.start AND r.created_at < b.start + @bucketMs
    ) AS created,
    -- [n, [queue waits ascending]]
    (SELECT json_array(count(*), json_group_array(wait ORDER BY wait))
      FROM (
        SELECT r.started_at - max(r.run_at, r.created_at) AS wait
        FROM jobdeck_runs r INDEXED BY jobdeck_runs_job_started
        WHERE r.job = j.job AND r.started_at >= b.start AND r.started_at < b.start + @bucketMs
      )
    ) AS started,
    -- [completed, partial, failed, cancelled, n, [durations ascending]]; runs cancelled before
    -- they started have no duration.
    (SELECT json_array(
        sum(status = 'completed'), sum(status = 'partial'), sum(status = 'failed'),
        sum(status = 'cancelled'), count(duration),
        json_group_array(duration ORDER BY duration) FILTER (WHERE duration IS NOT NULL))
      FROM (
        SELECT r.status, r.finished_at - r.started_at AS duration
        FROM jobdeck_runs r INDEXED BY jobdeck_runs_job_finished
        WHERE r.job = j.job AND r.finished_at >= b.start AND r.finished_at < b.start + @bucketMs
      )
    ) AS ended
  FROM buckets b, jobs j
  WHERE j.job IS NOT NULL
),
counted AS (
  SELECT bucket, job, created,
    started ->> 0 AS n_started, started -> 1 AS waits,
    coalesce(ended ->> 0, 0) AS completed, coalesce(ended ->> 1, 0) AS partial,
    coalesce(ended ->> 2, 0) AS failed, coalesce(ended ->> 3, 0) AS cancelled,
    ended ->> 4 AS n_timed, ended -> 5 AS durations
  FROM cells
)
SELECT bucket, job, created, n_started AS started, completed, partial, failed, cancelled,
  CASE WHEN n_timed > 0 THEN durations ->> ((n_timed + 1) / 2 - 1) END AS duration_p50,
  CASE WHEN n_timed > 0 THEN durations ->> ((n_timed * 95 + 99) / 100 - 1) END AS duration_p95,
  CASE WHEN n_started > 0 THEN waits ->> ((n_started + 1) / 2 - 1) END AS wait_p50,
  CASE WHEN n_started > 0 THEN waits ->> ((n_started * 95 + 99) / 100 - 1) END AS wait_p95
FROM counted
WHERE created + n_started + completed + partial + failed + cancelled > 0
ORDER BY bucket, job;

-- name: runOldestDue
-- The waiting run that has been due longest (pending, or scheduled with its time come), by
-- run_at. The claim-order index holds waiting runs by priority, then run_at: the first run of each
-- priority is its earliest due, so a seek per priority finds them.
WITH RECURSIVE priorities (priority) AS (
  SELECT max(priority) FROM jobdeck_runs INDEXED BY jobdeck_runs_waiting
  WHERE status IN ('pending', 'scheduled')
  UNION ALL
  SELECT (SELECT max(priority) FROM jobdeck_runs INDEXED BY jobdeck_runs_waiting
    WHERE status IN ('pending', 'scheduled') AND priority < priorities.priority)
  FROM priorities WHERE priority IS NOT NULL
),
firsts (id) AS (
  SELECT (SELECT id FROM jobdeck_runs INDEXED BY jobdeck_runs_waiting
    WHERE status IN ('pending', 'scheduled') AND priority = p.priority
    ORDER BY run_at, id LIMIT 1)
  FROM priorities p WHERE p.priority IS NOT NULL
)
SELECT r.id, r.job, r.run_at AS due_at
FROM firsts f JOIN jobdeck_runs r ON r.id = f.id
WHERE r.run_at <= @now
ORDER BY r.run_at, r.id
LIMIT 1;
