-- name: itemList
SELECT run_id, key, status, error FROM jobdeck_run_items
WHERE run_id = ANY (@ids::text[])
ORDER BY run_id, position;

-- name: itemUpsert
-- One statement, fenced by the run's row as stepSave is: a worker that stalls between round trips
-- never holds the run's row. New items take the next places. `held` is 0 when the attempt lost
-- the run (then nothing is written).
WITH held AS (
  SELECT id FROM jobdeck_runs
  WHERE id = @runId AND attempt = @attempt AND worker_id = @workerId
    AND status IN ('running', 'cancelling')
  FOR SHARE
), saved AS (
  INSERT INTO jobdeck_run_items (run_id, key, position, status, error)
  SELECT held.id, item.key,
         (SELECT coalesce(max(position) + 1, 0) FROM jobdeck_run_items WHERE run_id = @runId) + item.ord - 1,
         item.status, item.error::jsonb
  FROM held,
    unnest(@keys::text[], @statuses::text[], @errors::text[]) WITH ORDINALITY AS item (key, status, error, ord)
  ON CONFLICT (run_id, key) DO UPDATE SET status = excluded.status, error = excluded.error
)
SELECT count(*)::int AS held FROM held;

-- name: itemCancelUnfinished
UPDATE jobdeck_run_items SET status = 'cancelled'
WHERE run_id = @runId AND status IN ('pending', 'running');
