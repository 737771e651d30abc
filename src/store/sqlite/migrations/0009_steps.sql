-- Durable steps: each ctx.step of a run with its result, so that a later attempt (a retry, a
-- rescue after a crash) returns a completed step's result instead of running it again. A step
-- belongs to the run, not to an attempt: claims leave them alone, and they go with the run.
CREATE TABLE jobdeck_run_steps (
  run_id TEXT NOT NULL REFERENCES jobdeck_runs (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  -- The order in which the run's steps first started.
  position INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
  result TEXT,
  error TEXT,
  -- The attempt that last ran it.
  attempt INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  PRIMARY KEY (run_id, name)
) WITHOUT ROWID;
