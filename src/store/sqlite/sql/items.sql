-- name: itemList
SELECT run_id, key, status, error FROM jobdeck_run_items
WHERE run_id IN (SELECT value FROM json_each(@ids))
ORDER BY run_id, position;

-- name: itemUpsert
INSERT INTO jobdeck_run_items (run_id, key, position, status, error)
VALUES (
  @runId, @key,
  (SELECT coalesce(max(position) + 1, 0) FROM jobdeck_run_items WHERE run_id = @runId),
  @status, @error
)
ON CONFLICT (run_id, key) DO UPDATE SET status = excluded.status, error = excluded.error;

-- name: itemCancelUnfinished
UPDATE jobdeck_run_items SET status = 'cancelled'
WHERE run_id = @runId AND status IN ('pending', 'running');
