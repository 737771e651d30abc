-- The event feed: what happens to runs and jobs, numbered across the database. Triggers write each
-- event in the transaction of its change: no event without its change, no change without its event.
-- Readers are woken by a NOTIFY each instance sends after its writes, coalesced, outside them: a
-- NOTIFY in every writing transaction would serialise their commits on the notify queue's lock.
CREATE TABLE jobdeck_events (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Wall time of the write (ms), for retention and for measuring how late readers see it.
  at bigint NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
  name text NOT NULL,
  job text NOT NULL,
  run_id text,
  -- The run's status when the event was written (null for job events).
  status text,
  -- run.log events point at their log row instead of copying it.
  log_seq integer,
  -- The job state (job events). Run events carry no copy of the run: readers join it.
  data jsonb
);

-- The highest seq retention removed: a reader resuming from before it has missed events.
CREATE TABLE jobdeck_events_pruned (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  seq bigint NOT NULL
);
INSERT INTO jobdeck_events_pruned (seq) VALUES (0);

-- Statement-level: a claim or a batch of completions writes its events in one INSERT.
CREATE FUNCTION jobdeck_runs_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO jobdeck_events (name, job, run_id, status)
    SELECT 'run.created', n.job, n.id, n.status FROM new_runs n ORDER BY n.created_at, n.id;
  ELSE
    INSERT INTO jobdeck_events (name, job, run_id, status)
    SELECT e.name, n.job, n.id, n.status
    FROM new_runs n
    JOIN old_runs o ON o.id = n.id
    CROSS JOIN LATERAL (
      SELECT CASE
        WHEN n.status = o.status THEN
          CASE WHEN n.progress IS DISTINCT FROM o.progress THEN 'run.progress' END
        WHEN n.status = 'running' THEN 'run.started'
        WHEN n.status = 'cancelling' THEN 'run.cancelling'
        WHEN n.status IN ('completed', 'partial', 'failed', 'cancelled') THEN 'run.finished'
        WHEN o.status IN ('running', 'cancelling') THEN 'run.retrying'
      END AS name
    ) e
    WHERE e.name IS NOT NULL
    ORDER BY n.id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobdeck_runs_created AFTER INSERT ON jobdeck_runs
REFERENCING NEW TABLE AS new_runs
FOR EACH STATEMENT EXECUTE FUNCTION jobdeck_runs_events();

CREATE TRIGGER jobdeck_runs_changed AFTER UPDATE ON jobdeck_runs
REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs
FOR EACH STATEMENT EXECUTE FUNCTION jobdeck_runs_events();

CREATE FUNCTION jobdeck_logs_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, log_seq)
  SELECT 'run.log', r.job, r.id, r.status, n.seq
  FROM new_logs n JOIN jobdeck_runs r ON r.id = n.run_id
  ORDER BY n.run_id, n.seq;
  RETURN NULL;
END $$;

CREATE TRIGGER jobdeck_logs_appended AFTER INSERT ON jobdeck_run_logs
REFERENCING NEW TABLE AS new_logs
FOR EACH STATEMENT EXECUTE FUNCTION jobdeck_logs_events();

CREATE FUNCTION jobdeck_jobs_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO jobdeck_events (name, job, data) VALUES ('job.updated', NEW.name, to_jsonb(NEW));
  RETURN NULL;
END $$;

CREATE TRIGGER jobdeck_jobs_updated AFTER INSERT OR UPDATE ON jobdeck_jobs
FOR EACH ROW EXECUTE FUNCTION jobdeck_jobs_events();
