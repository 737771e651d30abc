-- name: runListIds
-- The ids of runs matching every filter given, newest first. Planned anew for each call (see the
-- store), so the filters given pick the index and the absent ones cost nothing. The id range
-- narrows a prefix search whatever the collation; the prefix test itself is exact. A creation
-- window that ends is read from the creation-time index and sorted: walking the newest ids first
-- would pass every run created since (the planner cannot know ids follow creation times), so for
-- such a call the sort key is an expression the id index cannot serve.
SELECT id FROM jobdeck_runs
WHERE (@before::text IS NULL OR id < @before)
  AND (@idPrefix::text IS NULL OR (id >= @idPrefix AND id < @idPrefixEnd
    AND left(id, length(@idPrefix)) = @idPrefix))
  AND (@ids::text[] IS NULL OR id = ANY (@ids::text[]))
  AND (@job::text IS NULL OR job = @job)
  AND (@createdBy::text IS NULL OR created_by = @createdBy)
  AND (@parentId::text IS NULL OR parent_id = @parentId)
  -- One status as an equality, so its index serves the id order.
  AND (@status::text IS NULL OR status = @status)
  AND (@statuses::text[] IS NULL OR status = ANY (@statuses::text[]))
  AND (@createdFrom::bigint IS NULL OR created_at >= @createdFrom)
  AND (@createdTo::bigint IS NULL OR created_at < @createdTo)
ORDER BY CASE WHEN @createdTo::bigint IS NULL THEN id ELSE id || '' END DESC
LIMIT @limit;

-- name: runGetMany
SELECT * FROM jobdeck_runs WHERE id = ANY (@ids::text[]) ORDER BY id DESC;
