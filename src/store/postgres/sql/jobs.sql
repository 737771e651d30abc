-- name: jobStateList
SELECT name, enabled, updated_at FROM jobdeck_jobs ORDER BY name;

-- name: jobStateSet
INSERT INTO jobdeck_jobs (name, enabled, updated_at) VALUES (@name, @enabled, @now)
ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at
RETURNING name, enabled, updated_at;

-- name: ping
SELECT 1 AS ok;

-- name: timeNow
SELECT jobdeck_now_ms(NULL) AS now;
