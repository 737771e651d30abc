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
-- A new step takes the next place; a completed step is final.
INSERT INTO jobdeck_run_steps (
  run_id, name, position, status, result, error, attempt, started_at, ended_at
) VALUES (
  @runId, @name,
  (SELECT coalesce(max(position) + 1, 0) FROM jobdeck_run_steps WHERE run_id = @runId),
  @status, @result, @error, @attempt, @startedAt, @endedAt
)
ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status, result = excluded.result,
  error = excluded.error, attempt = excluded.attempt, started_at = excluded.started_at,
  ended_at = excluded.ended_at
WHERE jobdeck_run_steps.status <> 'completed';
