-- name: statsFill
-- @count runs created evenly over the @spanMs before @now (see bench/stats.ts for the mix). Each
-- field is drawn from the run's number by its own multiplicative hash, so every fill is the same.
WITH RECURSIVE
seq (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < @count - 1),
drawn AS (
  SELECT i,
    @now - @spanMs + i * @spanMs / @count AS created_at,
    (i * 48271) % 2147483647 % 1000 AS outcome,
    (i * 69621) % 2147483647 % 1000 AS wait,
    (i * 16807) % 2147483647 % 1000 AS length,
    (i * 39373) % 2147483647 % 100 AS pick
  FROM seq
),
timed AS (
  SELECT *,
    created_at + CASE WHEN wait < 50 THEN 60000 ELSE 0 END AS due_at,
    @now - created_at < @freshMs AS fresh
  FROM drawn
),
shaped AS (
  SELECT *,
    CASE
      WHEN fresh AND outcome < 600 THEN 'pending'
      WHEN fresh AND outcome < 900 THEN 'running'
      WHEN fresh THEN 'scheduled'
      WHEN outcome < 880 THEN 'completed'
      WHEN outcome < 930 THEN 'failed'
      WHEN outcome < 960 THEN 'cancelled'
      WHEN outcome < 980 THEN 'partial'
      ELSE 'completed'
    END AS status,
    min(due_at + wait * 5, @now) AS started_at
  FROM timed
)
INSERT INTO jobdeck_runs (
  id, job, input, status, attempt, max_attempts, priority, run_at, created_at, started_at,
  finished_at, created_by, trigger, worker_id, lease_expires_at, cancel_mode, retention_ms
)
SELECT
  printf('%08x-%04x-7%03x-%04x-%012x', created_at / 65536, created_at % 65536, i % 4096,
    32768 + (i / 4096) % 16384, i),
  'job-' || (pick % 10),
  '{}',
  status,
  CASE WHEN status IN ('pending', 'scheduled') OR (status = 'cancelled' AND outcome < 945) THEN 0 ELSE 1 END,
  3,
  0,
  CASE WHEN status = 'scheduled' THEN @now + 3600000 ELSE due_at END,
  created_at,
  CASE
    WHEN status IN ('pending', 'scheduled') OR (status = 'cancelled' AND outcome < 945) THEN NULL
    ELSE started_at
  END,
  CASE
    WHEN status IN ('pending', 'scheduled', 'running') THEN NULL
    WHEN status = 'cancelled' AND outcome < 945 THEN created_at + wait * 5
    ELSE started_at + length * length / 10
  END,
  'user-' || (pick % 7),
  'api',
  CASE WHEN status = 'running' THEN 'bench-worker' END,
  CASE WHEN status = 'running' THEN @now + 30000 END,
  CASE WHEN status = 'cancelled' THEN 'force' END,
  90 * 86400000
FROM shaped;
