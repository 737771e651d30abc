-- The claims of rate-limited jobs, each at its run's started_at: a claim counts those within the
-- job's window (inside the write lock) and prunes older ones, so the log stays at most `max` rows
-- per job.
CREATE TABLE jobdeck_job_starts (
  job TEXT NOT NULL,
  started_at INTEGER NOT NULL
);
CREATE INDEX jobdeck_job_starts_job_at ON jobdeck_job_starts (job, started_at);
