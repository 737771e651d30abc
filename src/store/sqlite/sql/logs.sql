-- name: logOwnerCheck
SELECT attempt, worker_id FROM jobdeck_runs WHERE id = @runId;

-- name: logReserveSeq
UPDATE jobdeck_runs SET log_seq = log_seq + @count WHERE id = @runId RETURNING log_seq;

-- name: logInsert
INSERT INTO jobdeck_run_logs (run_id, seq, level, message, data, time)
VALUES (@runId, @seq, @level, @message, @data, @time);

-- name: logTrim
DELETE FROM jobdeck_run_logs WHERE run_id = @runId AND seq <= @keepAfter;

-- name: logList
SELECT * FROM jobdeck_run_logs
WHERE run_id = @runId AND seq > @afterSeq
ORDER BY seq
LIMIT @limit;
