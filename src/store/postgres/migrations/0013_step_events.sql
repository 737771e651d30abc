-- Steps in the event feed: each start and end of a durable step is a `run.step` event, written in
-- the statement that stores the step (one step per statement, so one row each), with the step
-- (not its result) in `data`.
CREATE FUNCTION jobdeck_steps_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO jobdeck_events (names, jobs, run_ids, statuses, attempts, data)
  SELECT ARRAY['run.step'], ARRAY[r.job], ARRAY[r.id], ARRAY[r.status], ARRAY[NEW.attempt],
    jsonb_build_object('name', NEW.name, 'status', NEW.status, 'attempt', NEW.attempt,
      'started_at', NEW.started_at, 'ended_at', NEW.ended_at, 'error', NEW.error)
  FROM jobdeck_runs r WHERE r.id = NEW.run_id;
  RETURN NULL;
END $$;

CREATE TRIGGER jobdeck_steps_saved AFTER INSERT OR UPDATE ON jobdeck_run_steps
FOR EACH ROW EXECUTE FUNCTION jobdeck_steps_events();
