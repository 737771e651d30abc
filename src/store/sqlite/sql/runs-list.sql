-- Lists walk one index in id order (newest first) and keep the runs that match every filter: the
-- store picks the narrowest index of the filters given (the driver), reads candidates from it a
-- batch at a time, and passes each batch through runIdsMatching by rowid (which every index
-- holds, and which reaches the row in one step). Id bounds are always given ('' and '~' stand for
-- none), so they narrow the walk instead of filtering it.

-- name: runIdsNewest
SELECT rowid AS rid, id FROM jobdeck_runs
WHERE id < @before AND id >= @idFrom AND id < @idTo
ORDER BY id DESC LIMIT @limit;

-- name: runIdsOfJob
SELECT rowid AS rid, id FROM jobdeck_runs INDEXED BY jobdeck_runs_job
WHERE job = @job AND id < @before AND id >= @idFrom AND id < @idTo
ORDER BY id DESC LIMIT @limit;

-- name: runIdsOfCreator
SELECT rowid AS rid, id FROM jobdeck_runs INDEXED BY jobdeck_runs_created_by
WHERE created_by = @createdBy AND id < @before AND id >= @idFrom AND id < @idTo
ORDER BY id DESC LIMIT @limit;

-- name: runIdsOfParent
SELECT rowid AS rid, id FROM jobdeck_runs INDEXED BY jobdeck_runs_parent
WHERE parent_id = @parentId AND id < @before AND id >= @idFrom AND id < @idTo
ORDER BY id DESC LIMIT @limit;

-- name: runIdsInStatus
SELECT rowid AS rid, id FROM jobdeck_runs INDEXED BY jobdeck_runs_status
WHERE status = @status AND id < @before AND id >= @idFrom AND id < @idTo
ORDER BY id DESC LIMIT @limit;

-- name: runIdsInStatuses
-- For several statuses that hold few runs (the unfinished ones): their ids are read and sorted.
SELECT rowid AS rid, id FROM jobdeck_runs INDEXED BY jobdeck_runs_status
WHERE status IN (SELECT value FROM json_each(@statuses))
  AND id < @before AND id >= @idFrom AND id < @idTo
ORDER BY id DESC LIMIT @limit;

-- name: runIdsCreatedWithin
-- For a window of creation times that ends: each job's part of the window is read from its
-- creation-time index (a seek per job, the jobs found by a seek each) and the ids sorted.
WITH RECURSIVE jobs (job) AS (
  SELECT min(job) FROM jobdeck_runs
  UNION ALL
  SELECT (SELECT min(job) FROM jobdeck_runs WHERE job > jobs.job) FROM jobs WHERE jobs.job IS NOT NULL
)
SELECT rowid AS rid, id FROM jobdeck_runs INDEXED BY jobdeck_runs_job_created
WHERE job IN (SELECT job FROM jobs) AND created_at >= @createdFrom AND created_at < @createdTo
  AND id < @before AND id >= @idFrom AND id < @idTo
ORDER BY id DESC LIMIT @limit;

-- name: runIdsInList
SELECT rowid AS rid, id FROM jobdeck_runs
WHERE id IN (SELECT value FROM json_each(@ids)) AND id < @before AND id >= @idFrom AND id < @idTo
ORDER BY id DESC LIMIT @limit;

-- name: runIdsMatching
-- The ids of the runs of @rowids that match every filter given, newest first.
SELECT id FROM jobdeck_runs
WHERE rowid IN (SELECT value FROM json_each(@rowids))
  AND id < @before AND id >= @idFrom AND id < @idTo
  AND (@idPrefix IS NULL OR substr(id, 1, length(@idPrefix)) = @idPrefix)
  AND (@job IS NULL OR job = @job)
  AND (@createdBy IS NULL OR created_by = @createdBy)
  AND (@parentId IS NULL OR parent_id = @parentId)
  AND (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
  AND (@createdFrom IS NULL OR created_at >= @createdFrom)
  AND (@createdTo IS NULL OR created_at < @createdTo)
ORDER BY id DESC LIMIT @limit;

-- name: runGetMany
SELECT * FROM jobdeck_runs
WHERE id IN (SELECT value FROM json_each(@ids))
ORDER BY id DESC;
