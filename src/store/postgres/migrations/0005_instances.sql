-- The instances of the application (API, worker or both), registered at start and beating while
-- they live; the runs an instance executes are those whose worker_id is its id.
CREATE TABLE jobdeck_instances (
  id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  version text NOT NULL,
  role text NOT NULL CHECK (role IN ('api', 'worker', 'both')),
  concurrency integer CHECK (concurrency >= 1),
  heartbeat_ms integer NOT NULL CHECK (heartbeat_ms >= 1),
  started_at bigint NOT NULL,
  -- On the database's clock, so instances on hosts whose clocks differ are judged alike.
  last_seen_at bigint NOT NULL,
  -- Only an instance that executes runs has a concurrency.
  CHECK ((role = 'api') = (concurrency IS NULL))
);
