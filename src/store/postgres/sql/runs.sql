-- name: runGet
SELECT * FROM jobdeck_runs WHERE id = @id;

-- name: runFindByIdempotencyKey
SELECT * FROM jobdeck_runs
WHERE job = @job AND created_by = @createdBy AND idempotency_key = @idempotencyKey;

-- name: runLockExclusive
-- Serialises exclusive inserts of one job across instances (released at commit).
SELECT pg_advisory_xact_lock(hashtext('jobdeck:exclusive:' || @job));

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
  @id, @job, @input::jsonb, @status, 0, @maxAttempts, @priority, @runAt, @now, @createdBy,
  @trigger, @idempotencyKey, @expireAt, @retentionMs, @retryOf, @parentId
)
ON CONFLICT (job, created_by, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *;

-- name: runInsertMany
-- Many runs in one statement (a bulk create), one array per column. A key already stored, or
-- given earlier in the call, inserts nothing: its run is looked up after. Rows go in in the order
-- of their keys, so two such statements that share keys wait for each other in one order (never a
-- deadlock); among runs of one key the first given wins.
INSERT INTO jobdeck_runs (
  id, job, input, status, attempt, max_attempts, priority, run_at, created_at, created_by,
  trigger, idempotency_key, expire_at, retention_ms, retry_of, parent_id
)
SELECT id, job, input::jsonb, status, 0, max_attempts, priority, run_at, @now, created_by,
  trigger, idempotency_key, expire_at, retention_ms, retry_of, parent_id
FROM unnest(
  @ids::text[], @jobs::text[], @inputs::text[], @statuses::text[], @maxAttempts::integer[],
  @priorities::integer[], @runAts::bigint[], @createdBys::text[], @triggers::text[],
  @idempotencyKeys::text[], @expireAts::bigint[], @retentionMs::bigint[], @retryOfs::text[],
  @parentIds::text[]
) WITH ORDINALITY AS given (
  id, job, input, status, max_attempts, priority, run_at, created_by, trigger, idempotency_key,
  expire_at, retention_ms, retry_of, parent_id, position
)
ORDER BY job, created_by, idempotency_key, position
ON CONFLICT (job, created_by, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *;

-- name: runFindByIdempotencyKeys
SELECT r.* FROM jobdeck_runs r
JOIN unnest(@jobs::text[], @createdBys::text[], @idempotencyKeys::text[])
  AS wanted (job, created_by, idempotency_key)
  ON r.job = wanted.job AND r.created_by = wanted.created_by
  AND r.idempotency_key = wanted.idempotency_key;

-- name: jobDisabledNames
SELECT name FROM jobdeck_jobs WHERE NOT enabled;

-- name: jobTryLock
-- Claimers of a job with a concurrency cap take turns; one that cannot get the lock skips the job this round.
SELECT pg_try_advisory_xact_lock(hashtext('jobdeck:claim:' || @job)) AS locked;

-- name: runCountActiveByJob
-- A force-cancelled run whose handler is still stopping keeps its lease, and its slot, meanwhile.
SELECT job, count(*) AS n FROM jobdeck_runs
WHERE job = ANY (@jobs::text[])
  AND (status IN ('running', 'cancelling')
    OR (status IN ('partial', 'cancelled') AND lease_expires_at >= jobdeck_now_ms(@now)))
GROUP BY job;

-- name: jobStartsInWindow
-- A rate-limited job's claims within its window, older ones pruned (the count reads the snapshot
-- the DELETE started from, hence its own bound).
WITH pruned AS (
  DELETE FROM jobdeck_job_starts
  WHERE job = @job AND started_at < jobdeck_now_ms(@now) - @perMs
)
SELECT count(*)::int AS n FROM jobdeck_job_starts
WHERE job = @job AND started_at >= jobdeck_now_ms(@now) - @perMs;

-- name: jobStartsRecord
INSERT INTO jobdeck_job_starts (job, started_at)
SELECT job, started_at FROM jobdeck_runs WHERE id = ANY (@ids::text[]);

-- name: runClaimCandidates
SELECT id, job FROM jobdeck_runs
WHERE status IN ('pending', 'scheduled')
  AND (status = 'pending' OR run_at <= jobdeck_now_ms(@now)) AND job = ANY (@jobs::text[])
ORDER BY priority DESC, run_at, id
LIMIT @limit
FOR UPDATE SKIP LOCKED;

-- name: itemClearForAttempt
-- A new attempt keeps the items that succeeded (its forEach skips them) and redoes the rest.
DELETE FROM jobdeck_run_items WHERE run_id = ANY (@ids::text[]) AND status <> 'succeeded';

-- name: runClaim
UPDATE jobdeck_runs
SET status = 'running', attempt = attempt + 1, worker_id = @workerId,
    lease_expires_at = jobdeck_now_ms(@now) + @leaseMs, started_at = jobdeck_now_ms(@now)
WHERE id = ANY (@ids::text[]) AND status IN ('pending', 'scheduled')
RETURNING *;

-- name: runGetForUpdate
SELECT * FROM jobdeck_runs WHERE id = @id FOR UPDATE;

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
  AND status IN ('running', 'cancelling')
FOR UPDATE;

-- name: runFinish
UPDATE jobdeck_runs
SET status = @status, finished_at = @now, lease_expires_at = NULL, result = @result::jsonb,
    error = @error::jsonb
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId
  AND status IN ('running', 'cancelling')
RETURNING *;

-- name: runFinishCancelled
UPDATE jobdeck_runs
SET status = CASE WHEN EXISTS (
      SELECT 1 FROM jobdeck_run_items WHERE run_id = @id AND status = 'succeeded'
    ) THEN 'partial' ELSE 'cancelled' END,
    finished_at = @now, lease_expires_at = NULL, result = @result::jsonb
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId
  AND status IN ('running', 'cancelling')
RETURNING *;

-- name: runRetryLater
-- The attempt joins the run's history here (the SET reads the row as it was): the run's own
-- fields describe the next attempt from its claim on. A run asked to pause waits paused instead.
UPDATE jobdeck_runs
SET status = CASE WHEN pause_requested_at IS NULL THEN 'scheduled' ELSE 'paused' END,
    run_at = @runAt, last_error = @error::jsonb, worker_id = NULL,
    lease_expires_at = NULL,
    attempts = attempts || jsonb_build_array(jsonb_build_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', @now::bigint,
      'outcome', 'failed', 'error', @error::jsonb))
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId AND status = 'running'
RETURNING *;

-- name: runRelease
-- A release on shutdown is not the handler's fault: it does not use up a try. A run asked to pause
-- is paused instead.
UPDATE jobdeck_runs
SET status = CASE WHEN pause_requested_at IS NULL THEN 'pending' ELSE 'paused' END, run_at = @now, worker_id = NULL, lease_expires_at = NULL,
    max_attempts = max_attempts + 1,
    attempts = attempts || jsonb_build_array(jsonb_build_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', @now::bigint,
      'outcome', 'released', 'error', NULL::jsonb))
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
    attempts = attempts || jsonb_build_array(jsonb_build_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', @now::bigint,
      'outcome', 'paused', 'error', NULL))
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId AND status = 'running'
  AND pause_requested_at IS NOT NULL
RETURNING *;

-- name: runWaitMark
-- The children the attempt's run now waits for are marked awaited, unless already ended; marks of
-- an earlier wait are cleared. Each listed child comes back as its lock leaves it: a child ending
-- meanwhile is waited for, then read ended (and not marked).
UPDATE jobdeck_runs
SET awaited = (id = ANY (@children::text[])
  AND status NOT IN ('completed', 'partial', 'failed', 'cancelled'))
WHERE parent_id = @id AND (awaited OR id = ANY (@children::text[]))
RETURNING id, status, awaited;

-- name: runWaitAttempt
-- The handler suspended its run until @unfinished awaited children end (fenced): `waiting`, or due
-- again at once when none is left or one already ended other than completed (its waitFor throws
-- on the next attempt); a run asked to pause is paused. No try is used; the attempt joins the
-- run's history, as a release does. A waiting run keeps its runAt (its queue wait is counted
-- from its wake-up); one due again is due now.
UPDATE jobdeck_runs
SET status = CASE WHEN pause_requested_at IS NOT NULL THEN 'paused'
      WHEN @unfinished::integer > 0 AND NOT @endedBadly::boolean THEN 'waiting'
      ELSE 'pending' END,
    waiting_for = @unfinished::integer,
    run_at = CASE WHEN pause_requested_at IS NULL AND @unfinished::integer > 0 AND NOT @endedBadly::boolean THEN run_at ELSE @now END,
    worker_id = NULL, lease_expires_at = NULL,
    max_attempts = max_attempts + 1,
    attempts = attempts || jsonb_build_array(jsonb_build_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', @now::bigint,
      'outcome', 'waiting', 'error', NULL))
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId AND status = 'running'
RETURNING *;

-- name: runRescuePaused
-- A running run asked to pause whose lease expired is paused, not retried: the lost attempt is
-- recorded, and no try is used (resuming is the user's call).
UPDATE jobdeck_runs
SET status = 'paused', worker_id = NULL, lease_expires_at = NULL,
    max_attempts = max_attempts + 1,
    attempts = attempts || jsonb_build_array(jsonb_build_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', jobdeck_now_ms(@now),
      'outcome', 'lost', 'error', @error::jsonb))
WHERE id = @id AND attempt = @attempt AND status = 'running' AND pause_requested_at IS NOT NULL
  AND lease_expires_at < jobdeck_now_ms(@now)
RETURNING *;

-- name: runProgressSet
UPDATE jobdeck_runs SET progress = @progress::jsonb
WHERE id = @id AND attempt = @attempt AND worker_id = @workerId
  AND status IN ('running', 'cancelling');

-- name: runListCancelRequested
SELECT id, attempt, cancel_mode, cancel_reason, cancel_requested_by, cancel_requested_at
FROM jobdeck_runs
WHERE worker_id = @workerId AND cancel_mode IS NOT NULL AND id = ANY (@ids::text[]);

-- name: leaseRenew
-- Also the lease a force-cancelled attempt keeps while its handler stops (not held: its end is stored).
-- The answer carries the run's cancel and pause requests: how a pause reaches the worker.
UPDATE jobdeck_runs AS r SET lease_expires_at = jobdeck_now_ms(@now) + @leaseMs
FROM unnest(@ids::text[], @attempts::integer[]) AS held (id, attempt)
WHERE r.id = held.id AND r.attempt = held.attempt AND r.worker_id = @workerId
  AND (r.status IN ('running', 'cancelling')
    OR (r.status IN ('partial', 'cancelled') AND r.lease_expires_at IS NOT NULL))
RETURNING r.id, r.attempt, r.status, r.cancel_mode, r.cancel_reason, r.cancel_requested_by,
  r.cancel_requested_at, r.pause_requested_by, r.pause_requested_at;

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
FROM jobdeck_runs WHERE id = ANY (@ids::text[]);

-- name: runListExpiredLeases
SELECT * FROM jobdeck_runs
WHERE status IN ('running', 'cancelling') AND lease_expires_at < jobdeck_now_ms(@now)
ORDER BY lease_expires_at
LIMIT 500
FOR UPDATE SKIP LOCKED;

-- name: runRescueRetry
UPDATE jobdeck_runs
SET status = 'scheduled', run_at = jobdeck_now_ms(@now), last_error = @error::jsonb,
    worker_id = NULL, lease_expires_at = NULL,
    attempts = attempts || jsonb_build_array(jsonb_build_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', jobdeck_now_ms(@now),
      'outcome', 'lost', 'error', @error::jsonb))
WHERE id = @id AND attempt = @attempt AND status = 'running'
  AND lease_expires_at < jobdeck_now_ms(@now)
RETURNING *;

-- name: runRescueFail
-- The run ends, but its worker is cleared: the lost attempt is recorded with it.
UPDATE jobdeck_runs
SET status = 'failed', finished_at = jobdeck_now_ms(@now), error = @error::jsonb,
    worker_id = NULL, lease_expires_at = NULL,
    attempts = attempts || jsonb_build_array(jsonb_build_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', jobdeck_now_ms(@now),
      'outcome', 'lost', 'error', @error::jsonb))
WHERE id = @id AND attempt = @attempt AND status = 'running'
  AND lease_expires_at < jobdeck_now_ms(@now)
RETURNING *;

-- name: runRescueCancelled
-- The run ends, but its worker is cleared: the lost attempt is recorded with it.
UPDATE jobdeck_runs
SET status = CASE WHEN EXISTS (
      SELECT 1 FROM jobdeck_run_items WHERE run_id = @id AND status = 'succeeded'
    ) THEN 'partial' ELSE 'cancelled' END,
    finished_at = jobdeck_now_ms(@now), worker_id = NULL, lease_expires_at = NULL,
    attempts = attempts || jsonb_build_array(jsonb_build_object('attempt', attempt,
      'workerId', worker_id, 'startedAt', started_at, 'endedAt', jobdeck_now_ms(@now),
      'outcome', 'lost', 'error', @error::jsonb))
WHERE id = @id AND attempt = @attempt AND status = 'cancelling'
  AND lease_expires_at < jobdeck_now_ms(@now)
RETURNING *;

-- name: runExpireUnstarted
-- Only runs that never started: a run waiting for a retry has begun and is not expired.
UPDATE jobdeck_runs
SET status = 'cancelled', finished_at = jobdeck_now_ms(@now), cancel_mode = 'force',
    cancel_reason = 'expired', cancel_requested_by = 'system',
    cancel_requested_at = jobdeck_now_ms(@now)
WHERE id IN (
  SELECT id FROM jobdeck_runs
  WHERE status IN ('pending', 'scheduled') AND attempt = 0 AND expire_at <= jobdeck_now_ms(@now)
  FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: runPromoteDue
UPDATE jobdeck_runs SET status = 'pending'
WHERE id IN (
  SELECT id FROM jobdeck_runs WHERE status = 'scheduled' AND run_at <= jobdeck_now_ms(@now)
  FOR UPDATE SKIP LOCKED
);

-- name: runDeleteFinished
-- Materialised for the reason runClaimSimple's pick is: a rescanned pick would pass @limit.
WITH picked AS MATERIALIZED (
  SELECT id FROM jobdeck_runs WHERE delete_at IS NOT NULL AND delete_at <= jobdeck_now_ms(@now)
  LIMIT @limit
  FOR UPDATE SKIP LOCKED
)
DELETE FROM jobdeck_runs WHERE id IN (SELECT id FROM picked);

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

-- name: runNotifyAvailable
SELECT pg_notify(@channel, @job);

-- name: runNotifyCancel
SELECT pg_notify(@channel, @payload);

-- name: runCompleteMany
UPDATE jobdeck_runs AS r
SET status = 'completed', finished_at = @now, lease_expires_at = NULL,
    result = done.result::jsonb, error = NULL
FROM unnest(@ids::text[], @attempts::integer[], @workers::text[], @results::text[])
  AS done (id, attempt, worker_id, result)
WHERE r.id = done.id AND r.attempt = done.attempt AND r.worker_id = done.worker_id
  AND r.status IN ('running', 'cancelling')
RETURNING r.*;

-- name: runClaimSimple
-- One statement for a worker whose jobs have no concurrency cap: select, lock and take. A retried
-- run's unfinished items of its earlier attempt go in the same statement: no cancel can see them
-- in between.
-- The pick is a materialised CTE, evaluated once: as a subquery of the UPDATE the planner may
-- rescan it per row, and a rescan skips the rows this statement already took and locks the next
-- ones, claiming more runs than @limit. The picked ids are matched as an array, read by index
-- whatever its estimated size: the statement's generic plan (kept after five calls, no planning
-- per claim) must never hash the whole table instead.
WITH picked AS MATERIALIZED (
  SELECT id FROM jobdeck_runs
  WHERE status IN ('pending', 'scheduled')
    AND (status = 'pending' OR run_at <= jobdeck_now_ms(@now)) AND job = ANY (@jobs::text[])
    AND NOT EXISTS (SELECT 1 FROM jobdeck_jobs j WHERE j.name = jobdeck_runs.job AND NOT j.enabled)
  ORDER BY priority DESC, run_at, id
  LIMIT @limit
  FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE jobdeck_runs AS r
  SET status = 'running', attempt = r.attempt + 1, worker_id = @workerId,
      lease_expires_at = jobdeck_now_ms(@now) + @leaseMs, started_at = jobdeck_now_ms(@now)
  WHERE r.id = ANY (ARRAY(SELECT id FROM picked))
  RETURNING r.*
), cleared AS (
  DELETE FROM jobdeck_run_items AS i USING claimed
  WHERE i.run_id = claimed.id AND claimed.attempt > 1 AND i.status <> 'succeeded'
)
SELECT * FROM claimed;

-- name: runInsertNotify
-- Insert a due run and wake the workers in one round trip: for a create with no other in flight
-- on this instance, whose wake-up then waits for no one.
WITH inserted AS (
  INSERT INTO jobdeck_runs (
    id, job, input, status, attempt, max_attempts, priority, run_at, created_at, created_by,
    trigger, idempotency_key, expire_at, retention_ms, retry_of, parent_id
  ) VALUES (
    @id, @job, @input::jsonb, @status, 0, @maxAttempts, @priority, @runAt, @now, @createdBy,
    @trigger, @idempotencyKey, @expireAt, @retentionMs, @retryOf, @parentId
  )
  ON CONFLICT (job, created_by, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING *
)
SELECT inserted.*, pg_notify(@channel, inserted.job) AS notified FROM inserted;

-- name: wakeUp
-- Wake-ups after commits: what they announce is durable in its own commit, so this one need not
-- wait for the disk (set_config(…, true) lasts to the end of this statement's transaction).
SELECT set_config('synchronous_commit', 'off', true) AS async_commit,
  (SELECT count(pg_notify(@runChannel, job)) FROM unnest(@jobs::text[]) AS job) AS runs_due,
  CASE WHEN @events::boolean THEN pg_notify(@eventsChannel, '') END AS events_appended;
