-- A lease on a finished run means its handler is still stopping (a force cancel ends the run at
-- once): the run keeps its concurrency slot until its worker reports the handler stopped
-- (leaseRelease) or the lease expires. Runs that ended by their own write keep no lease.
UPDATE jobdeck_runs SET lease_expires_at = NULL
WHERE status IN ('completed', 'partial', 'failed', 'cancelled') AND lease_expires_at IS NOT NULL;

CREATE INDEX jobdeck_runs_stopping ON jobdeck_runs (job, lease_expires_at)
WHERE status IN ('partial', 'cancelled') AND lease_expires_at IS NOT NULL;

-- The time leases, due times and retention are compared with: the caller's when it gives one (an
-- injected test clock), else the database's own, so instances on hosts whose clocks differ agree.
CREATE FUNCTION jobdeck_now_ms(given bigint) RETURNS bigint LANGUAGE sql STABLE
AS $$ SELECT coalesce(given, (extract(epoch FROM statement_timestamp()) * 1000)::bigint) $$;
