-- name: runGet
SELECT * FROM jobdeck_runs WHERE id = @id;

-- name: runFindByIdempotencyKey
SELECT * FROM jobdeck_runs
WHERE job = @job AND created_by = @createdBy AND idempotency_key = @idempotencyKey;

-- name: runCountBlocking
-- A run backing off before a retry (scheduled, already tried) still counts, as does a paused or
-- waiting one (it goes on once resumed); a future slot does not.
SELECT count(*) AS n FROM jobdeck_runs
WHERE job = @job
  AND (status IN ('pending', 'running', 'cancelling', 'paused', 'waiting')
    OR (status = 'scheduled' AND attempt > 0));

-- name: runInsert
INSERT INTO jobdeck_runs (
  id, job, input, status, attempt, max_attempts, priority, run_at, created_at, created_by,
  trigger, idempotency_key, expire_at, retention_ms, retry_of, parent_id
) VALUES (
  @id, @job, @input, @status, 0, @maxAttempts, @priority, @runAt, @now, @createdBy,
  @trigger, @idempotencyKey, @expireAt, @retentionMs, @retryOf, @parentId
)
RETURNING *;

-- name: runInsertMany
-- Many runs in one statement (a bulk create), from a JSON array of runs, in the order given. A key
-- already stored, or given earlier in the call, inserts nothing: its run is looked up after.
-- (`WHERE true` lets SQLite tell the upsert's ON from a join's.)
INSERT INTO jobdeck_runs (
  id, job, input, status, attempt, max_attempts, priority, run_at, created_at, created_by,
  trigger, idempotency_key, expire_at, retention_ms, retry_of, parent_id
)
SELECT value ->> 'id', value ->> 'job', value ->> 'input', value ->> 'status', 0,
  value ->> 'maxAttempts', value ->> 'priority', value ->> 'runAt', @now, value ->> 'createdBy',
  value ->> 'trigger', value ->> 'idempotencyKey', value ->> 'expireAt', value ->> 'retentionMs',
  value ->> 'retryOf', value ->> 'parentId'
FROM json_each(@runs)
WHERE true
ORDER BY key
ON CONFLICT (job, created_by, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *;

-- name: runFindByIdempotencyKeys
SELECT r.* FROM json_each(@keys) AS wanted
JOIN jobdeck_runs r
  ON r.job = wanted.value ->> 'job' AND r.created_by = wanted.value ->> 'createdBy'
  AND r.idempotency_key = wanted.value ->> 'idempotencyKey';

-- name: jobDisabledNames
SELECT name FROM jobdeck_jobs WHERE enabled = 0;

-- name: runCountActiveByJob
-- A force-cancelled run whose handler is still stopping keeps its lease, and its slot, meanwhile.
SELECT job, count(*) AS n FROM jobdeck_runs
WHERE job IN (SELECT value FROM json_each(@jobs))
  AND (status IN ('running', 'cancelling')
    OR (status IN ('partial', 'cancelled') AND lease_expires_at >= @now))
GROUP BY job;

-- name: jobStartsPrune
-- A rate-limited job's claims older than its window no longer count.
DELETE FROM jobdeck_job_starts WHERE job = @job AND started_at < @now - @perMs;

-- name: jobStartsInWindow
SELECT count(*) AS n FROM jobdeck_job_starts WHERE job = @job;

-- name: jobStartsRecord
INSERT INTO jobdeck_job_starts (job, started_at) VALUES (@job, @startedAt);

-- name: runClaimCandidates
-- The waiting-runs index is already in claim order, so the first rows found are the ones taken;
-- without the hint SQLite may pick the status index and sort every waiting run on each claim.
SELECT id, job FROM jobdeck_runs INDEXED BY jobdeck_runs_waiting
WHERE status IN ('pending', 'scheduled') AND (status = 'pending' OR run_at <= @now)
  AND job IN (SELECT value FROM json_each(@jobs))
ORDER BY priority DESC, run_at, id
LIMIT @limit;

-- name: itemClearForAttempt
-- A new attempt keeps the items that succeeded (its forEach skips them) and redoes the rest.
DELETE FROM jobdeck_run_items WHERE run_id = @id AND status <> 'succeeded';

-- name: runClaim
UPDATE jobdeck_runs
SET status = 'running', attempt = attempt + 1, worker_id = @workerId,
    lease_expires_at = @leaseUntil, started_at = @now
WHERE id = @id AND status IN ('pending', 'scheduled')
RETURNING *;

-- name: runCancelNow
UPDATE jobdeck_runs
SET status = 'cancelled', finished_at = @now, cancel_mode = @mode, cancel_reason = @reason,
    cancel_requested_by = @requestedBy, cancel_requested_at = @now
WHERE id = @id AND status = @expected
RETURNING *;

-- name: runCancelRequest
UPDATE jobdeck_runs
SET status = 'cancelling', cancel_mode = @mode, cancel_reason = @reason,
    cancel_requested_by = @requestedBy, cancel_requested_at = @now
WHERE id = @id AND status = @expected
RETURNING *;

-- name: runCancelForce
-- Forcing a stop already asked for keeps its reason unless the force gives one.
UPDATE jobdeck_runs
SET status = CASE WHEN EXISTS (
      SELECT 1 FROM jobdeck_run_items WHERE run_id = @id AND status = 'succeeded'
    ) THEN 'partial' ELSE 'cancelled' END,
    finished_at = @now, cancel_mode = @mode, cancel_reason = COALESCE(@reason, CASE WHEN status = 'cancelling' THEN cancel_reason END),
    cancel_requested_by = @requestedBy, cancel_requested_at = @now
WHERE id = @id AND status = @expected
RETURNING *;

-- name: runFenceCheck
SELECT status FROM jobdeck_runs
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId
  AND status IN ('running', 'cancelling');

-- name: runFinish
UPDATE jobdeck_runs
SET status = @status, finished_at = @now, lease_expires_at = NULL, result = @result,
    error = @error
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId
  AND status IN ('running', 'cancelling')
RETURNING *;

-- name: runFinishCancelled
UPDATE jobdeck_runs
SET status = CASE WHEN EXISTS (
      SELECT 1 FROM jobdeck_run_items WHERE run_id = @id AND status = 'succeeded'
    ) THEN 'partial' ELSE 'cancelled' END,
    finished_at = @now, lease_expires_at = NULL, result = @result
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId
  AND status IN ('running', 'cancelling')
RETURNING *;

-- name: runRetryLater
-- The attempt joins the run's history here (the SET reads the row as it was): the run's own
-- fields describe the next attempt from its claim on. A run asked to pause waits paused instead.
UPDATE jobdeck_runs
SET status = CASE WHEN pause_requested_at IS NULL THEN 'scheduled' ELSE 'paused' END,
    run_at = @runAt, last_error = @error, worker_id = NULL,
    lease_expires_at = NULL,
    attempts = json_insert(attempts, '$[#]', json_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', @now,
      'outcome', 'failed', 'error', json(@error)))
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId AND status = 'running'
RETURNING *;

-- name: runRelease
-- A release on shutdown is not the handler's fault: it does not use up a try. A run asked to pause
-- is paused instead.
UPDATE jobdeck_runs
SET status = CASE WHEN pause_requested_at IS NULL THEN 'pending' ELSE 'paused' END, run_at = @now, worker_id = NULL, lease_expires_at = NULL,
    max_attempts = max_attempts + 1,
    attempts = json_insert(attempts, '$[#]', json_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', @now,
      'outcome', 'released', 'error', NULL))
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId AND status = 'running'
RETURNING *;

-- name: runPauseNow
-- A waiting run is held at once: no handler runs.
UPDATE jobdeck_runs
SET status = 'paused', pause_requested_by = @requestedBy, pause_requested_at = @now
WHERE id = @id AND status = @expected
RETURNING *;

-- name: runPauseRequest
-- The run keeps running until its handler's next checkpoint; a request already made stays as it was.
UPDATE jobdeck_runs
SET pause_requested_by = CASE WHEN pause_requested_at IS NULL THEN @requestedBy
      ELSE pause_requested_by END,
    pause_requested_at = coalesce(pause_requested_at, @now)
WHERE id = @id AND status = 'running'
RETURNING *;

-- name: runResume
-- Due at once; the next attempt skips the steps earlier ones completed.
UPDATE jobdeck_runs
SET status = 'pending', run_at = @now, pause_requested_by = NULL, pause_requested_at = NULL
WHERE id = @id AND status = 'paused'
RETURNING *;

-- name: runPauseAttempt
-- The handler stopped at a checkpoint after a pause request (fenced). Not the handler's fault: it
-- does not use up a try. The attempt joins the run's history, as a release does.
UPDATE jobdeck_runs
SET status = 'paused', worker_id = NULL, lease_expires_at = NULL,
    max_attempts = max_attempts + 1,
    attempts = json_insert(attempts, '$[#]', json_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', @now,
      'outcome', 'paused', 'error', NULL))
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId AND status = 'running'
  AND pause_requested_at IS NOT NULL
RETURNING *;

-- name: runWaitMark
-- The children the attempt's run now waits for are marked awaited, unless already ended; marks of
-- an earlier wait are cleared. Each listed child comes back as the mark left it.
UPDATE jobdeck_runs
SET awaited = (id IN (SELECT value FROM json_each(@children))
  AND status NOT IN ('completed', 'partial', 'failed', 'cancelled'))
WHERE parent_id = @id AND (awaited = 1 OR id IN (SELECT value FROM json_each(@children)))
RETURNING id, status, awaited;

-- name: runWaitAttempt
-- The handler suspended its run until @unfinished awaited children end (fenced): `waiting`, or due
-- again at once when none is left or one already ended other than completed (its waitFor throws
-- on the next attempt); a run asked to pause is paused. No try is used; the attempt joins the
-- run's history, as a release does. A waiting run keeps its runAt (its queue wait is counted
-- from its wake-up); one due again is due now.
UPDATE jobdeck_runs
SET status = CASE WHEN pause_requested_at IS NOT NULL THEN 'paused'
      WHEN @unfinished > 0 AND NOT @endedBadly THEN 'waiting'
      ELSE 'pending' END,
    waiting_for = @unfinished,
    run_at = CASE WHEN pause_requested_at IS NULL AND @unfinished > 0 AND NOT @endedBadly THEN run_at ELSE @now END,
    worker_id = NULL, lease_expires_at = NULL,
    max_attempts = max_attempts + 1,
    attempts = json_insert(attempts, '$[#]', json_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', @now,
      'outcome', 'waiting', 'error', NULL))
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId AND status = 'running'
RETURNING *;

-- name: runRescuePaused
-- A running run asked to pause whose lease expired is paused, not retried: the lost attempt is
-- recorded, and no try is used (resuming is the user's call).
UPDATE jobdeck_runs
SET status = 'paused', worker_id = NULL, lease_expires_at = NULL,
    max_attempts = max_attempts + 1,
    attempts = json_insert(attempts, '$[#]', json_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', @now,
      'outcome', 'lost', 'error', json(@error)))
WHERE id = @id AND attempt = @attempt AND status = 'running' AND pause_requested_at IS NOT NULL
  AND lease_expires_at < @now
RETURNING *;

-- name: runProgressSet
UPDATE jobdeck_runs SET progress = @progress
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId
  AND status IN ('running', 'cancelling');

-- name: runListCancelRequested
SELECT id, attempt, cancel_mode, cancel_reason, cancel_requested_by, cancel_requested_at
FROM jobdeck_runs
WHERE worker_id = @workerId AND cancel_mode IS NOT NULL
  AND id IN (SELECT value FROM json_each(@ids));

-- name: leaseRenew
-- Also the lease a force-cancelled attempt keeps while its handler stops (not held: its end is stored).
-- The answer carries the run's cancel and pause requests: how a pause reaches the worker.
UPDATE jobdeck_runs SET lease_expires_at = @leaseUntil
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId
  AND (status IN ('running', 'cancelling')
    OR (status IN ('partial', 'cancelled') AND lease_expires_at IS NOT NULL))
RETURNING id, attempt, status, cancel_mode, cancel_reason, cancel_requested_by, cancel_requested_at,
  pause_requested_by, pause_requested_at;

-- name: leaseRelease
-- The attempt's handler stopped: a finished run gives up the lease it kept meanwhile.
UPDATE jobdeck_runs
SET lease_expires_at = CASE
  WHEN status IN ('running', 'cancelling') THEN lease_expires_at ELSE NULL END
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId
RETURNING id;

-- name: leaseLookup
SELECT id, attempt, worker_id, status, cancel_mode, cancel_reason, cancel_requested_by,
       cancel_requested_at, pause_requested_by, pause_requested_at
FROM jobdeck_runs WHERE id = @id;

-- name: runListExpiredLeases
SELECT * FROM jobdeck_runs
WHERE status IN ('running', 'cancelling') AND lease_expires_at < @now;

-- name: runRescueRetry
UPDATE jobdeck_runs
SET status = 'scheduled', run_at = @now, last_error = @error, worker_id = NULL,
    lease_expires_at = NULL,
    attempts = json_insert(attempts, '$[#]', json_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', @now,
      'outcome', 'lost', 'error', json(@error)))
WHERE id = @id AND attempt = @attempt AND status = 'running' AND lease_expires_at < @now
RETURNING *;

-- name: runRescueFail
-- The run ends, but its worker is cleared: the lost attempt is recorded with it.
UPDATE jobdeck_runs
SET status = 'failed', finished_at = @now, error = @error, worker_id = NULL,
    lease_expires_at = NULL,
    attempts = json_insert(attempts, '$[#]', json_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', @now,
      'outcome', 'lost', 'error', json(@error)))
WHERE id = @id AND attempt = @attempt AND status = 'running' AND lease_expires_at < @now
RETURNING *;

-- name: runRescueCancelled
-- The run ends, but its worker is cleared: the lost attempt is recorded with it.
UPDATE jobdeck_runs
SET status = CASE WHEN EXISTS (
      SELECT 1 FROM jobdeck_run_items WHERE run_id = @id AND status = 'succeeded'
    ) THEN 'partial' ELSE 'cancelled' END,
    finished_at = @now, worker_id = NULL, lease_expires_at = NULL,
    attempts = json_insert(attempts, '$[#]', json_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', @now,
      'outcome', 'lost', 'error', json(@error)))
WHERE id = @id AND attempt = @attempt AND status = 'cancelling' AND lease_expires_at < @now
RETURNING *;

-- name: runExpireUnstarted
-- Only runs never claimed: a run waiting for a retry (or released on shutdown) has started.
UPDATE jobdeck_runs
SET status = 'cancelled', finished_at = @now, cancel_mode = 'force', cancel_reason = 'expired',
    cancel_requested_by = 'system', cancel_requested_at = @now
WHERE status IN ('pending', 'scheduled') AND attempt = 0 AND expire_at <= @now
RETURNING *;

-- name: runPromoteDue
UPDATE jobdeck_runs SET status = 'pending'
WHERE status = 'scheduled' AND run_at <= @now;

-- name: runDeleteFinished
DELETE FROM jobdeck_runs
WHERE id IN (
  SELECT id FROM jobdeck_runs WHERE delete_at IS NOT NULL AND delete_at <= @now LIMIT @limit
);

-- name: runListUncancelledChildren
-- A failed parent's children are cancelled gracefully, by the system.
SELECT c.id AS id, p.id AS parent_id, p.status AS parent_status,
  COALESCE(p.cancel_mode, 'graceful') AS mode, COALESCE(p.cancel_requested_by, 'system') AS requested_by
FROM jobdeck_runs c
JOIN jobdeck_runs p ON p.id = c.parent_id
WHERE c.status IN ('scheduled', 'pending', 'running', 'cancelling', 'paused', 'waiting')
  AND (p.status = 'failed' OR (p.status IN ('cancelling', 'cancelled') AND p.cancel_mode IS NOT NULL))
  AND NOT (
    c.status = 'cancelling'
    AND (c.cancel_mode = 'force' OR COALESCE(p.cancel_mode, 'graceful') = 'graceful')
  )
ORDER BY c.id
LIMIT @limit;

-- name: runCountUnfinished
SELECT status, count(*) AS n FROM jobdeck_runs
WHERE status IN ('scheduled', 'pending', 'running', 'cancelling', 'paused', 'waiting')
GROUP BY status;

-- name: runComplete
UPDATE jobdeck_runs
SET status = 'completed', finished_at = @now, lease_expires_at = NULL, result = @result,
    error = NULL
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId
  AND status IN ('running', 'cancelling')
RETURNING *;
