-- name: instanceBeat
-- A registration and every later beat: an id reused after a restart takes the new process's details.
INSERT INTO jobdeck_instances
  (id, host, pid, version, role, concurrency, heartbeat_ms, started_at, last_seen_at)
VALUES (@id, @host, @pid, @version, @role, @concurrency, @heartbeatMs, @startedAt, @now)
ON CONFLICT (id) DO UPDATE SET
  host = excluded.host, pid = excluded.pid, version = excluded.version, role = excluded.role,
  concurrency = excluded.concurrency, heartbeat_ms = excluded.heartbeat_ms,
  started_at = excluded.started_at, last_seen_at = excluded.last_seen_at;

-- name: instanceList
SELECT id, host, pid, version, role, concurrency, heartbeat_ms, started_at, last_seen_at,
  CASE WHEN last_seen_at < @now - @lostAfterBeats * heartbeat_ms THEN 'lost' ELSE 'alive' END
    AS state
FROM jobdeck_instances
WHERE last_seen_at >= @now - @removedAfterBeats * heartbeat_ms
ORDER BY started_at, id;

-- name: instanceRunList
SELECT worker_id, id, job, attempt, status, started_at FROM jobdeck_runs
WHERE status IN ('running', 'cancelling') AND worker_id IN (SELECT value FROM json_each(@ids))
ORDER BY started_at, id;

-- name: instanceRemove
DELETE FROM jobdeck_instances WHERE id = @id;

-- name: instanceDeleteLost
DELETE FROM jobdeck_instances WHERE last_seen_at < @now - @removedAfterBeats * heartbeat_ms;
