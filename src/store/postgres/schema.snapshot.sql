jobdeck_alert_cooldowns.rule text not null
jobdeck_alert_cooldowns.job text not null
jobdeck_alert_cooldowns.until_at bigint not null
jobdeck_alert_deliveries.alert_id text not null
jobdeck_alert_deliveries.channel text not null
jobdeck_alert_deliveries.status text not null
jobdeck_alert_deliveries.attempts jsonb not null default '[]'::jsonb
jobdeck_alert_deliveries.attempt_count integer not null default 0
jobdeck_alert_deliveries.next_attempt_at bigint not null
jobdeck_alert_deliveries.lease_owner text
jobdeck_alert_deliveries.lease_expires_at bigint
jobdeck_alert_deliveries.finished_at bigint
jobdeck_alerts.id text not null
jobdeck_alerts.rule text not null
jobdeck_alerts.key text not null
jobdeck_alerts.event text not null
jobdeck_alerts.job text not null
jobdeck_alerts.run_id text
jobdeck_alerts.severity text not null
jobdeck_alerts.message text not null
jobdeck_alerts.payload jsonb not null
jobdeck_alerts.suppressed boolean not null
jobdeck_alerts.created_at bigint not null
jobdeck_events.seq bigint not null default nextval('jobdeck_events_seq'::regclass)
jobdeck_events.at bigint not null default ((EXTRACT(epoch FROM clock_timestamp()) * (1000)::numeric))::bigint
jobdeck_events.names ARRAY not null
jobdeck_events.jobs ARRAY not null
jobdeck_events.run_ids ARRAY
jobdeck_events.statuses ARRAY
jobdeck_events.attempts ARRAY
jobdeck_events.log_seqs ARRAY
jobdeck_events.data jsonb
jobdeck_events_pruned.only_row boolean not null default true
jobdeck_events_pruned.seq bigint not null
jobdeck_instances.id text not null
jobdeck_instances.host text not null
jobdeck_instances.pid integer not null
jobdeck_instances.version text not null
jobdeck_instances.role text not null
jobdeck_instances.concurrency integer
jobdeck_instances.heartbeat_ms integer not null
jobdeck_instances.started_at bigint not null
jobdeck_instances.last_seen_at bigint not null
jobdeck_job_starts.job text not null
jobdeck_job_starts.started_at bigint not null
jobdeck_jobs.name text not null
jobdeck_jobs.enabled boolean not null
jobdeck_jobs.updated_at bigint not null
jobdeck_migrations.version integer not null
jobdeck_migrations.name text not null
jobdeck_migrations.applied_at timestamp with time zone not null default now()
jobdeck_run_items.run_id text not null
jobdeck_run_items.key text not null
jobdeck_run_items.position integer not null
jobdeck_run_items.status text not null
jobdeck_run_items.error jsonb
jobdeck_run_logs.run_id text not null
jobdeck_run_logs.seq integer not null
jobdeck_run_logs.level text not null
jobdeck_run_logs.message text not null
jobdeck_run_logs.data jsonb
jobdeck_run_logs.time bigint not null
jobdeck_run_steps.run_id text not null
jobdeck_run_steps.name text not null
jobdeck_run_steps.position integer not null
jobdeck_run_steps.status text not null
jobdeck_run_steps.result jsonb
jobdeck_run_steps.error jsonb
jobdeck_run_steps.attempt integer not null
jobdeck_run_steps.started_at bigint not null
jobdeck_run_steps.ended_at bigint
jobdeck_runs.id text not null
jobdeck_runs.job text not null
jobdeck_runs.input jsonb not null
jobdeck_runs.status text not null
jobdeck_runs.progress jsonb
jobdeck_runs.result jsonb
jobdeck_runs.error jsonb
jobdeck_runs.last_error jsonb
jobdeck_runs.attempt integer not null default 0
jobdeck_runs.max_attempts integer not null
jobdeck_runs.priority integer not null default 0
jobdeck_runs.run_at bigint not null
jobdeck_runs.created_at bigint not null
jobdeck_runs.started_at bigint
jobdeck_runs.finished_at bigint
jobdeck_runs.created_by text not null
jobdeck_runs.trigger text not null
jobdeck_runs.idempotency_key text
jobdeck_runs.worker_id text
jobdeck_runs.lease_expires_at bigint
jobdeck_runs.cancel_mode text
jobdeck_runs.cancel_reason text
jobdeck_runs.cancel_requested_by text
jobdeck_runs.cancel_requested_at bigint
jobdeck_runs.expire_at bigint
jobdeck_runs.retention_ms bigint not null
jobdeck_runs.retry_of text
jobdeck_runs.log_seq integer not null default 0
jobdeck_runs.delete_at bigint generated (finished_at + retention_ms)
jobdeck_runs.attempts jsonb not null default '[]'::jsonb
jobdeck_runs.stuck_at bigint
jobdeck_runs.stuck_attempt integer
jobdeck_runs.pause_requested_by text
jobdeck_runs.pause_requested_at bigint
jobdeck_runs.parent_id text
jobdeck_runs.awaited boolean not null default false
jobdeck_runs.waiting_for integer

CREATE UNIQUE INDEX jobdeck_alert_cooldowns_pkey ON jobdeck_alert_cooldowns USING btree (rule, job)
CREATE INDEX jobdeck_alert_deliveries_due ON jobdeck_alert_deliveries USING btree (next_attempt_at) WHERE (status = 'pending'::text)
CREATE UNIQUE INDEX jobdeck_alert_deliveries_pkey ON jobdeck_alert_deliveries USING btree (alert_id, channel)
CREATE INDEX jobdeck_alerts_created ON jobdeck_alerts USING btree (created_at)
CREATE UNIQUE INDEX jobdeck_alerts_pkey ON jobdeck_alerts USING btree (id)
CREATE UNIQUE INDEX jobdeck_alerts_rule_key_key ON jobdeck_alerts USING btree (rule, key)
CREATE UNIQUE INDEX jobdeck_events_pkey ON jobdeck_events USING btree (seq)
CREATE UNIQUE INDEX jobdeck_events_pruned_pkey ON jobdeck_events_pruned USING btree (only_row)
CREATE UNIQUE INDEX jobdeck_instances_pkey ON jobdeck_instances USING btree (id)
CREATE INDEX jobdeck_job_starts_job_at ON jobdeck_job_starts USING btree (job, started_at)
CREATE UNIQUE INDEX jobdeck_jobs_pkey ON jobdeck_jobs USING btree (name)
CREATE UNIQUE INDEX jobdeck_migrations_pkey ON jobdeck_migrations USING btree (version)
CREATE UNIQUE INDEX jobdeck_run_items_pkey ON jobdeck_run_items USING btree (run_id, key)
CREATE UNIQUE INDEX jobdeck_run_logs_pkey ON jobdeck_run_logs USING btree (run_id, seq)
CREATE UNIQUE INDEX jobdeck_run_steps_pkey ON jobdeck_run_steps USING btree (run_id, name)
CREATE INDEX jobdeck_runs_created ON jobdeck_runs USING btree (created_at, id)
CREATE INDEX jobdeck_runs_created_by ON jobdeck_runs USING btree (created_by, id)
CREATE INDEX jobdeck_runs_delete_at ON jobdeck_runs USING btree (delete_at) WHERE (delete_at IS NOT NULL)
CREATE INDEX jobdeck_runs_expire ON jobdeck_runs USING btree (expire_at) WHERE ((expire_at IS NOT NULL) AND (status = ANY (ARRAY['pending'::text, 'scheduled'::text])))
CREATE INDEX jobdeck_runs_held ON jobdeck_runs USING btree (worker_id, lease_expires_at) WHERE (status = ANY (ARRAY['running'::text, 'cancelling'::text]))
CREATE UNIQUE INDEX jobdeck_runs_idempotency ON jobdeck_runs USING btree (job, created_by, idempotency_key) WHERE (idempotency_key IS NOT NULL)
CREATE INDEX jobdeck_runs_job ON jobdeck_runs USING btree (job, id)
CREATE INDEX jobdeck_runs_job_created ON jobdeck_runs USING btree (job, created_at) WHERE (status <> ALL (ARRAY['running'::text, 'cancelling'::text]))
CREATE INDEX jobdeck_runs_job_finished ON jobdeck_runs USING btree (job, finished_at) INCLUDE (status, started_at) WHERE (finished_at IS NOT NULL)
CREATE INDEX jobdeck_runs_job_started ON jobdeck_runs USING btree (job, started_at) INCLUDE (run_at, created_at) WHERE ((started_at IS NOT NULL) AND (status <> ALL (ARRAY['running'::text, 'cancelling'::text])))
CREATE INDEX jobdeck_runs_lease ON jobdeck_runs USING btree (lease_expires_at) WHERE (status = ANY (ARRAY['running'::text, 'cancelling'::text]))
CREATE INDEX jobdeck_runs_parent ON jobdeck_runs USING btree (parent_id, id) WHERE (parent_id IS NOT NULL)
CREATE UNIQUE INDEX jobdeck_runs_pkey ON jobdeck_runs USING btree (id)
CREATE INDEX jobdeck_runs_status ON jobdeck_runs USING btree (status, id)
CREATE INDEX jobdeck_runs_stopping ON jobdeck_runs USING btree (job, lease_expires_at) WHERE ((status = ANY (ARRAY['partial'::text, 'cancelled'::text])) AND (lease_expires_at IS NOT NULL))
CREATE INDEX jobdeck_runs_waiting ON jobdeck_runs USING btree (priority DESC, run_at, id) WHERE (status = ANY (ARRAY['pending'::text, 'scheduled'::text]))

jobdeck_alert_cooldowns PRIMARY KEY (rule, job)
jobdeck_alert_deliveries CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text])))
jobdeck_alert_deliveries FOREIGN KEY (alert_id) REFERENCES jobdeck_alerts(id) ON DELETE CASCADE
jobdeck_alert_deliveries PRIMARY KEY (alert_id, channel)
jobdeck_alerts PRIMARY KEY (id)
jobdeck_alerts UNIQUE (rule, key)
jobdeck_events PRIMARY KEY (seq)
jobdeck_events_pruned CHECK (only_row)
jobdeck_events_pruned PRIMARY KEY (only_row)
jobdeck_instances CHECK (((role = 'api'::text) = (concurrency IS NULL)))
jobdeck_instances CHECK ((concurrency >= 1))
jobdeck_instances CHECK ((heartbeat_ms >= 1))
jobdeck_instances CHECK ((role = ANY (ARRAY['api'::text, 'worker'::text, 'both'::text])))
jobdeck_instances PRIMARY KEY (id)
jobdeck_jobs PRIMARY KEY (name)
jobdeck_migrations PRIMARY KEY (version)
jobdeck_run_items CHECK ((status = ANY (ARRAY['pending'::text, 'running'::text, 'succeeded'::text, 'failed'::text, 'cancelled'::text])))
jobdeck_run_items FOREIGN KEY (run_id) REFERENCES jobdeck_runs(id) ON DELETE CASCADE
jobdeck_run_items PRIMARY KEY (run_id, key)
jobdeck_run_logs CHECK ((level = ANY (ARRAY['debug'::text, 'info'::text, 'warn'::text, 'error'::text])))
jobdeck_run_logs FOREIGN KEY (run_id) REFERENCES jobdeck_runs(id) ON DELETE CASCADE
jobdeck_run_logs PRIMARY KEY (run_id, seq)
jobdeck_run_steps CHECK ((status = ANY (ARRAY['running'::text, 'completed'::text, 'failed'::text])))
jobdeck_run_steps FOREIGN KEY (run_id) REFERENCES jobdeck_runs(id) ON DELETE CASCADE
jobdeck_run_steps PRIMARY KEY (run_id, name)
jobdeck_runs CHECK (((status <> 'cancelling'::text) OR (cancel_mode IS NOT NULL)))
jobdeck_runs CHECK (((status <> 'paused'::text) OR ((worker_id IS NULL) AND (lease_expires_at IS NULL) AND (pause_requested_at IS NOT NULL))))
jobdeck_runs CHECK (((status <> 'waiting'::text) OR ((worker_id IS NULL) AND (lease_expires_at IS NULL) AND (waiting_for > 0))))
jobdeck_runs CHECK (((status <> ALL (ARRAY['running'::text, 'cancelling'::text])) OR ((worker_id IS NOT NULL) AND (lease_expires_at IS NOT NULL))))
jobdeck_runs CHECK (((status = ANY (ARRAY['completed'::text, 'partial'::text, 'failed'::text, 'cancelled'::text])) = (finished_at IS NOT NULL)))
jobdeck_runs CHECK ((attempt >= 0))
jobdeck_runs CHECK ((cancel_mode = ANY (ARRAY['graceful'::text, 'force'::text])))
jobdeck_runs CHECK ((max_attempts >= 1))
jobdeck_runs CHECK ((retention_ms >= 0))
jobdeck_runs CHECK ((status = ANY (ARRAY['scheduled'::text, 'pending'::text, 'running'::text, 'cancelling'::text, 'paused'::text, 'waiting'::text, 'completed'::text, 'partial'::text, 'failed'::text, 'cancelled'::text])))
jobdeck_runs CHECK ((trigger = ANY (ARRAY['api'::text, 'schedule'::text, 'retry'::text, 'manual'::text, 'parent'::text])))
jobdeck_runs PRIMARY KEY (id)

jobdeck_jobs jobdeck_jobs_updated AFTER INSERT
jobdeck_jobs jobdeck_jobs_updated AFTER UPDATE
jobdeck_run_logs jobdeck_logs_appended AFTER INSERT
jobdeck_run_steps jobdeck_steps_saved AFTER INSERT
jobdeck_run_steps jobdeck_steps_saved AFTER UPDATE
jobdeck_runs jobdeck_runs_changed AFTER UPDATE
jobdeck_runs jobdeck_runs_child_ended AFTER UPDATE
jobdeck_runs jobdeck_runs_created AFTER INSERT
jobdeck_runs jobdeck_runs_transition BEFORE UPDATE

jobdeck_check_transition() trigger volatile
jobdeck_jobs_events() trigger volatile
jobdeck_logs_events() trigger volatile
jobdeck_now_ms(given bigint) bigint stable
jobdeck_runs_child_ended() trigger volatile
jobdeck_runs_events() trigger volatile
jobdeck_steps_events() trigger volatile
