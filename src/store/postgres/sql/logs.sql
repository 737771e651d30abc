-- name: logAppend
-- One statement: reserve the sequence numbers on the run's row (fenced to the attempt when one is
-- given), insert the lines and trim the oldest past the cap. The row stays locked only while it
-- runs, so a worker that stalls between round trips never holds it. The trim cannot see this
-- statement's own lines: a batch longer than the cap is trimmed by logTrim after it. No row: the
-- run is gone, or the attempt lost it.
WITH owner AS (
  UPDATE jobdeck_runs SET log_seq = log_seq + @count
  WHERE id = @runId
    AND (@attempt::integer IS NULL OR (attempt = @attempt AND worker_id = @workerId))
  RETURNING log_seq
), inserted AS (
  INSERT INTO jobdeck_run_logs (run_id, seq, level, message, data, time)
  SELECT @runId, owner.log_seq - @count + entry.ord, entry.level, entry.message, entry.data::jsonb,
    entry.time
  FROM owner,
    unnest(@levels::text[], @messages::text[], @datas::text[], @times::bigint[])
      WITH ORDINALITY AS entry (level, message, data, time, ord)
), trimmed AS (
  DELETE FROM jobdeck_run_logs
  WHERE run_id = @runId AND seq <= (SELECT log_seq - @cap FROM owner)
)
SELECT log_seq FROM owner;

-- name: logTrim
DELETE FROM jobdeck_run_logs WHERE run_id = @runId AND seq <= @keepAfter;

-- name: runExists
SELECT 1 AS found FROM jobdeck_runs WHERE id = @runId;

-- name: logList
SELECT * FROM jobdeck_run_logs
WHERE run_id = @runId AND seq > @afterSeq
ORDER BY seq
LIMIT @limit;
