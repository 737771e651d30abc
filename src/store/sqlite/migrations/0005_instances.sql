-- The instances of the application (API, worker or both), registered at start and beating while
-- they live; the runs an instance executes are those whose worker_id is its id.
CREATE TABLE jobdeck_instances (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  version TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('api', 'worker', 'both')),
  concurrency INTEGER CHECK (concurrency >= 1),
  heartbeat_ms INTEGER NOT NULL CHECK (heartbeat_ms >= 1),
  started_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  -- Only an instance that executes runs has a concurrency.
  CHECK ((role = 'api') = (concurrency IS NULL))
);
