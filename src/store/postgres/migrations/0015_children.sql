-- Child runs. A handler starts children (`parent_id`) and may wait for them: its attempt ends and
-- the run is `waiting`, held by no worker, until the children it waits for (`awaited`) have all
-- ended, or one of them ends other than completed; it is then due again (`pending`).
-- `waiting_for` counts the awaited children that have not ended.
ALTER TABLE jobdeck_runs ADD COLUMN parent_id text;
ALTER TABLE jobdeck_runs ADD COLUMN awaited boolean NOT NULL DEFAULT false;
ALTER TABLE jobdeck_runs ADD COLUMN waiting_for integer;
CREATE INDEX jobdeck_runs_parent ON jobdeck_runs (parent_id, id) WHERE parent_id IS NOT NULL;

ALTER TABLE jobdeck_runs DROP CONSTRAINT jobdeck_runs_status_check;
ALTER TABLE jobdeck_runs ADD CONSTRAINT jobdeck_runs_status_check CHECK (status IN ('scheduled', 'pending', 'running', 'cancelling', 'paused', 'waiting', 'completed', 'partial', 'failed', 'cancelled'));
ALTER TABLE jobdeck_runs DROP CONSTRAINT jobdeck_runs_trigger_check;
ALTER TABLE jobdeck_runs ADD CONSTRAINT jobdeck_runs_trigger_check CHECK (trigger IN ('api', 'schedule', 'retry', 'manual', 'parent'));
-- A waiting run holds no worker and no lease, and has children to wait for.
ALTER TABLE jobdeck_runs ADD CONSTRAINT jobdeck_runs_waiting_check CHECK (status <> 'waiting' OR (worker_id IS NULL AND lease_expires_at IS NULL AND waiting_for > 0));

-- The transition table of src/core/status.ts, with the pairs of `waiting`.
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
    ('running','waiting'),
    ('cancelling','cancelled'),
    ('cancelling','partial'),
    ('cancelling','completed'),
    ('cancelling','failed'),
    ('paused','pending'),
    ('paused','cancelled'),
    ('waiting','pending'),
    ('waiting','cancelled'),
    ('waiting','paused')
  ) THEN
    RAISE EXCEPTION 'INVALID_TRANSITION: % -> %', OLD.status, NEW.status USING ERRCODE = 'JD001';
  END IF;
  RETURN NEW;
END;
$$;

-- The feed names a wait, and the resume of a waiting run: a running run that waits is not retrying.
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
          WHEN n.status = 'waiting' THEN 'run.waiting'
          WHEN o.status IN ('paused', 'waiting') AND n.status = 'pending' THEN 'run.resumed'
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

-- An awaited child that ends counts down its waiting parent, which is due again once none is left,
-- or at once when this one did not complete (its waitFor then throws); the workers are woken.
-- A parent that is not waiting (still running, as its wait is being stored) is matched by nothing
-- and so not locked: the wait, holding the parent, then sees this child ended.
CREATE FUNCTION jobdeck_runs_child_ended() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  due_job text;
BEGIN
  UPDATE jobdeck_runs
  SET waiting_for = waiting_for - 1,
      status = CASE WHEN waiting_for <= 1 OR NEW.status <> 'completed' THEN 'pending' ELSE status END,
      run_at = CASE WHEN waiting_for <= 1 OR NEW.status <> 'completed' THEN NEW.finished_at ELSE run_at END
  WHERE id = NEW.parent_id AND status = 'waiting'
  RETURNING CASE WHEN status = 'pending' THEN job END INTO due_job;
  IF due_job IS NOT NULL THEN
    PERFORM pg_notify(
      CASE WHEN TG_TABLE_SCHEMA = 'public' THEN 'jobdeck' ELSE 'jobdeck_' || TG_TABLE_SCHEMA END || '_run',
      due_job);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobdeck_runs_child_ended AFTER UPDATE OF status ON jobdeck_runs
FOR EACH ROW WHEN (NEW.awaited AND NEW.parent_id IS NOT NULL
  AND NEW.status IN ('completed', 'partial', 'failed', 'cancelled')
  AND OLD.status NOT IN ('completed', 'partial', 'failed', 'cancelled'))
EXECUTE FUNCTION jobdeck_runs_child_ended();
