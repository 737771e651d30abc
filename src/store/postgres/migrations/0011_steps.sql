-- Durable steps: each ctx.step of a run with its result, so that a later attempt (a retry, a
-- rescue after a crash) returns a completed step's result instead of running it again. A step
-- belongs to the run, not to an attempt: claims leave them alone, and they go with the run.
CREATE TABLE jobdeck_run_steps (
  run_id text NOT NULL REFERENCES jobdeck_runs (id) ON DELETE CASCADE,
  name text NOT NULL,
  -- The order in which the run's steps first started.
  position integer NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
  result jsonb,
  error jsonb,
  -- The attempt that last ran it.
  attempt integer NOT NULL,
  started_at bigint NOT NULL,
  ended_at bigint,
  PRIMARY KEY (run_id, name)
);
