-- name: logOwnerCheck
SELECT attempt, worker_id FROM jobdeck_runs WHERE id = @runId FOR UPDATE;

-- name: logReserveSeq
UPDATE jobdeck_runs SET log_seq = log_seq + @count WHERE id = @runId RETURNING log_seq;

-- name: logInsert
INSERT INTO jobdeck_run_logs (run_id, seq, level, message, data, time)
SELECT @runId, entry.seq, entry.level, entry.message, entry.data::jsonb, entry.time
FROM unnest(@seqs::integer[], @levels::text[], @messages::text[], @datas::text[], @times::bigint[])
  AS entry (seq, level, message, data, time);

-- name: logTrim
DELETE FROM jobdeck_run_logs WHERE run_id = @runId AND seq <= @keepAfter;

-- name: logList
SELECT * FROM jobdeck_run_logs
WHERE run_id = @runId AND seq > @afterSeq
ORDER BY seq
LIMIT @limit;
