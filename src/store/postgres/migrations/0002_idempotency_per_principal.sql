-- An idempotency key belongs to its creator: another principal's create with the same key makes
-- a run of its own instead of receiving a run it may not cancel.
DROP INDEX jobdeck_runs_idempotency;
CREATE UNIQUE INDEX jobdeck_runs_idempotency ON jobdeck_runs (job, created_by, idempotency_key) WHERE idempotency_key IS NOT NULL;
