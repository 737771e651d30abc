-- name: stepList
SELECT name, status, result, error, attempt, started_at, ended_at FROM jobdeck_run_steps
WHERE run_id = @runId
ORDER BY position;

-- name: stepListLast
-- The newest @last steps, in the order they first started.
SELECT name, status, result, error, attempt, started_at, ended_at FROM (
  SELECT * FROM jobdeck_run_steps WHERE run_id = @runId ORDER BY position DESC LIMIT @last
) newest
ORDER BY position;

-- name: stepSave
-- One statement, fenced by the run's row: the lock lasts only while it runs, so a worker process
-- that stalls (SIGSTOP, a blocked event loop) between round trips never holds the run's row. A new
-- step takes the next place; a completed step is final. `held` is 0 when the attempt lost the run.
WITH held AS (
  SELECT id FROM jobdeck_runs
  WHERE id = @runId AND attempt = @attempt AND worker_id = @workerId
    AND status IN ('running', 'cancelling')
  FOR SHARE
), saved AS (
  INSERT INTO jobdeck_run_steps (
    run_id, name, position, status, result, error, attempt, started_at, ended_at
  )
  SELECT held.id, @name,
    (SELECT coalesce(max(position) + 1, 0) FROM jobdeck_run_steps WHERE run_id = @runId),
    @status, @result::jsonb, @error::jsonb, @attempt, @startedAt, @endedAt
  FROM held
  ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status, result = excluded.result,
    error = excluded.error, attempt = excluded.attempt, started_at = excluded.started_at,
    ended_at = excluded.ended_at
  WHERE jobdeck_run_steps.status <> 'completed'
)
SELECT count(*)::int AS held FROM held;
