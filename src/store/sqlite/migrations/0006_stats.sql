-- Statistics read runs by the time they were created, started and ended, and the list filters by
-- creator and creation time. The time indexes carry the columns the statistics need, so those
-- reads never visit the table.
CREATE INDEX jobdeck_runs_created ON jobdeck_runs (created_at, job);
CREATE INDEX jobdeck_runs_started ON jobdeck_runs (started_at, job, run_at, created_at)
WHERE started_at IS NOT NULL;
CREATE INDEX jobdeck_runs_finished ON jobdeck_runs (finished_at, job, status, started_at)
WHERE finished_at IS NOT NULL;
-- The waiting run that has been due longest: its queue wait counts from max(run_at, created_at).
CREATE INDEX jobdeck_runs_due ON jobdeck_runs (max(run_at, created_at))
WHERE status IN ('pending', 'scheduled');
CREATE INDEX jobdeck_runs_created_by ON jobdeck_runs (created_by, id);
