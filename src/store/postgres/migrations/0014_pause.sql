-- Pause and resume. A pause of a waiting run holds it at once (`paused`); a pause of a running run
-- is a request its worker learns with the lease renewal: the attempt ends `paused` at the handler's
-- next checkpoint. A paused run is held by no worker and never claimed; a resume makes it
-- `pending` and clears the request.
ALTER TABLE jobdeck_runs ADD COLUMN pause_requested_by text;
ALTER TABLE jobdeck_runs ADD COLUMN pause_requested_at bigint;

ALTER TABLE jobdeck_runs DROP CONSTRAINT jobdeck_runs_status_check;
ALTER TABLE jobdeck_runs ADD CONSTRAINT jobdeck_runs_status_check CHECK (status IN ('scheduled', 'pending', 'running', 'cancelling', 'paused', 'completed', 'partial', 'failed', 'cancelled'));
-- A paused run holds no worker, no lease (and so no slot), and has its pause record.
ALTER TABLE jobdeck_runs ADD CONSTRAINT jobdeck_runs_paused_check CHECK (status <> 'paused' OR (worker_id IS NULL AND lease_expires_at IS NULL AND pause_requested_at IS NOT NULL));

-- The transition table of src/core/status.ts, with the pairs of `paused`.
CREATE OR REPLACE FUNCTION jobdeck_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (OLD.status, NEW.status) NOT IN (
    ('scheduled','pending'),
    ('scheduled','running'),
    ('scheduled','cancelled'),
    ('scheduled','paused'),
    ('pending','running'),
    ('pending','cancelled'),
    ('pending','paused'),
    ('running','completed'),
    ('running','partial'),
    ('running','failed'),
    ('running','cancelled'),
    ('running','cancelling'),
    ('running','scheduled'),
    ('running','pending'),
    ('running','paused'),
    ('cancelling','cancelled'),
    ('cancelling','partial'),
    ('cancelling','completed'),
    ('cancelling','failed'),
    ('paused','pending'),
    ('paused','cancelled')
  ) THEN
    RAISE EXCEPTION 'INVALID_TRANSITION: % -> %', OLD.status, NEW.status USING ERRCODE = 'JD001';
  END IF;
  RETURN NEW;
END;
$$;

-- The feed names a pause and a resume: a running run that pauses is not retrying.
CREATE OR REPLACE FUNCTION jobdeck_runs_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO jobdeck_events (names, jobs, run_ids, statuses)
    SELECT array_agg('run.created'::text ORDER BY place), array_agg(job ORDER BY place),
      array_agg(id ORDER BY place), array_agg(status ORDER BY place)
    FROM (
      SELECT n.job, n.id, n.status, row_number() OVER (ORDER BY n.created_at, n.id) - 1 AS place
      FROM new_runs n
    ) e
    GROUP BY place / 1024
    ORDER BY place / 1024;
  ELSE
    INSERT INTO jobdeck_events (names, jobs, run_ids, statuses, attempts)
    SELECT array_agg(name ORDER BY place), array_agg(job ORDER BY place),
      array_agg(id ORDER BY place), array_agg(status ORDER BY place),
      array_agg(attempt ORDER BY place)
    FROM (
      SELECT e.name, n.job, n.id, n.status, n.attempt,
        row_number() OVER (ORDER BY n.id) - 1 AS place
      FROM new_runs n
      JOIN old_runs o ON o.id = n.id
      CROSS JOIN LATERAL (
        SELECT CASE
          WHEN n.status = o.status THEN
            CASE WHEN n.progress IS DISTINCT FROM o.progress THEN 'run.progress' END
          WHEN n.status = 'running' THEN 'run.started'
          WHEN n.status = 'cancelling' THEN 'run.cancelling'
          WHEN n.status = 'paused' THEN 'run.paused'
          WHEN o.status = 'paused' AND n.status = 'pending' THEN 'run.resumed'
          WHEN n.status IN ('completed', 'partial', 'failed', 'cancelled') THEN 'run.finished'
          WHEN o.status IN ('running', 'cancelling') THEN 'run.retrying'
        END AS name
      ) e
      WHERE e.name IS NOT NULL
    ) e
    GROUP BY place / 1024
    ORDER BY place / 1024;
  END IF;
  RETURN NULL;
END $$;
