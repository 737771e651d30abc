-- name: itemList
SELECT run_id, key, status, error FROM jobdeck_run_items
WHERE run_id = ANY (@ids::text[])
ORDER BY run_id, position;

-- name: itemUpsert
INSERT INTO jobdeck_run_items (run_id, key, position, status, error)
SELECT @runId, item.key,
       (SELECT coalesce(max(position) + 1, 0) FROM jobdeck_run_items WHERE run_id = @runId) + item.ord - 1,
       item.status, item.error::jsonb
FROM unnest(@keys::text[], @statuses::text[], @errors::text[]) WITH ORDINALITY AS item (key, status, error, ord)
ON CONFLICT (run_id, key) DO UPDATE SET status = excluded.status, error = excluded.error;

-- name: itemCancelUnfinished
UPDATE jobdeck_run_items SET status = 'cancelled'
WHERE run_id = @runId AND status IN ('pending', 'running');
