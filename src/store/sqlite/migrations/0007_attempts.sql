-- The attempts that ended without ending their run (a retry after an error, a release on shutdown)
-- or that the rescuer found lost, oldest first, as a JSON array: {attempt, workerId, startedAt,
-- endedAt, outcome, error}, times in ms. Appended by the statement that ends such an attempt; the
-- latest attempt is otherwise described by the run's own columns, so a claim or a completion
-- writes nothing here.
ALTER TABLE jobdeck_runs ADD COLUMN attempts TEXT NOT NULL DEFAULT '[]';
