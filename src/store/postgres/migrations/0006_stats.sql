-- Statistics count runs per job and bucket of time by when they were created, started and ended;
-- each count is an index-only scan of one range of one job's index. The list filters read by
-- creator and by creation time.
CREATE INDEX jobdeck_runs_job_created ON jobdeck_runs (job, created_at);
CREATE INDEX jobdeck_runs_job_started ON jobdeck_runs (job, started_at) INCLUDE (run_at, created_at)
WHERE started_at IS NOT NULL;
CREATE INDEX jobdeck_runs_job_finished ON jobdeck_runs (job, finished_at) INCLUDE (status, started_at)
WHERE finished_at IS NOT NULL;
CREATE INDEX jobdeck_runs_created ON jobdeck_runs (created_at, id);
CREATE INDEX jobdeck_runs_created_by ON jobdeck_runs (created_by, id);
