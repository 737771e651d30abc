-- Statistics count runs per job and bucket of time by when they were created, started and ended;
-- each count reads one range of one job's index, which carries every column it needs. A list of a
-- creation window reads the same ranges, and the id; a list by creator reads its own index. Each
-- index costs every single-run write a page: there is no index by creation time alone.
CREATE INDEX jobdeck_runs_job_created ON jobdeck_runs (job, created_at, id);
CREATE INDEX jobdeck_runs_job_started ON jobdeck_runs (job, started_at, run_at, created_at)
WHERE started_at IS NOT NULL;
CREATE INDEX jobdeck_runs_job_finished ON jobdeck_runs (job, finished_at, status, started_at)
WHERE finished_at IS NOT NULL;
CREATE INDEX jobdeck_runs_created_by ON jobdeck_runs (created_by, id);
