-- The event feed writes one row per writing statement instead of one per event: a claim of 16
-- runs writes one row naming 16 runs, so PostgreSQL adds one tuple and one index entry, not 16.
-- Each event is numbered by its row and its place in the row: row seq * 1024 + place (from 0).
-- The numbers still grow with the feed and are global to the database; a statement of more than
-- 1,024 events writes one row per 1,024.
--
-- Events written before this migration are dropped, and counted as removed by retention: a stream
-- resuming from one of them gets `reset`. The rows are numbered on from there.
UPDATE jobdeck_events_pruned
SET seq = GREATEST(seq, coalesce((SELECT max(seq) FROM jobdeck_events), 0));
DROP TABLE jobdeck_events;

CREATE SEQUENCE jobdeck_events_seq;
SELECT setval('jobdeck_events_seq', (SELECT seq FROM jobdeck_events_pruned) / 1024 + 1, false);

-- The arrays are parallel, one entry per event; an array no event of the row needs is null.
CREATE TABLE jobdeck_events (
  seq bigint PRIMARY KEY DEFAULT nextval('jobdeck_events_seq'),
  -- Wall time of the write (ms), for retention and for measuring how late readers see it.
  at bigint NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
  names text[] NOT NULL,
  jobs text[] NOT NULL,
  run_ids text[],
  -- The run's status and attempt when the event was written.
  statuses text[],
  attempts integer[],
  -- run.log events point at their log row instead of copying it.
  log_seqs integer[],
  -- The job state (a job.updated row, which holds that one event).
  data jsonb
);
ALTER SEQUENCE jobdeck_events_seq OWNED BY jobdeck_events.seq;

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

CREATE OR REPLACE FUNCTION jobdeck_logs_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO jobdeck_events (names, jobs, run_ids, statuses, log_seqs)
  SELECT array_agg('run.log'::text ORDER BY place), array_agg(job ORDER BY place),
    array_agg(id ORDER BY place), array_agg(status ORDER BY place),
    array_agg(seq ORDER BY place)
  FROM (
    SELECT r.job, r.id, r.status, n.seq, row_number() OVER (ORDER BY n.run_id, n.seq) - 1 AS place
    FROM new_logs n JOIN jobdeck_runs r ON r.id = n.run_id
  ) e
  GROUP BY place / 1024
  ORDER BY place / 1024;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jobdeck_jobs_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO jobdeck_events (names, jobs, data)
  VALUES (ARRAY['job.updated'], ARRAY[NEW.name], to_jsonb(NEW));
  RETURN NULL;
END $$;
