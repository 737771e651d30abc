-- Steps in the event feed: each start and end of a durable step is a `run.step` event, written in
-- the statement that stores the step, with the step (not its result) in `data`.
CREATE TRIGGER jobdeck_steps_inserted AFTER INSERT ON jobdeck_run_steps
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, attempt, data)
  SELECT 'run.step', r.job, r.id, r.status, NEW.attempt,
    json_object('name', NEW.name, 'status', NEW.status, 'attempt', NEW.attempt,
      'started_at', NEW.started_at, 'ended_at', NEW.ended_at, 'error', json(NEW.error))
  FROM jobdeck_runs r WHERE r.id = NEW.run_id;
END;

CREATE TRIGGER jobdeck_steps_updated AFTER UPDATE ON jobdeck_run_steps
BEGIN
  INSERT INTO jobdeck_events (name, job, run_id, status, attempt, data)
  SELECT 'run.step', r.job, r.id, r.status, NEW.attempt,
    json_object('name', NEW.name, 'status', NEW.status, 'attempt', NEW.attempt,
      'started_at', NEW.started_at, 'ended_at', NEW.ended_at, 'error', json(NEW.error))
  FROM jobdeck_runs r WHERE r.id = NEW.run_id;
END;
