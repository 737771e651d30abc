-- A claim rewrites its runs' rows, and PostgreSQL adds an entry for each new row version to every
-- index whose predicate it meets. The statistics indexes by job leave out running and cancelling
-- runs, so a claim adds no entry to them; statistics read those few runs from the lease index.
DROP INDEX jobdeck_runs_job_created;
DROP INDEX jobdeck_runs_job_started;
CREATE INDEX jobdeck_runs_job_created ON jobdeck_runs (job, created_at)
WHERE status NOT IN ('running', 'cancelling');
CREATE INDEX jobdeck_runs_job_started ON jobdeck_runs (job, started_at) INCLUDE (run_at, created_at)
WHERE started_at IS NOT NULL AND status NOT IN ('running', 'cancelling');
