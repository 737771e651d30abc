import type { RunStatus } from './status.js';

/** What an instance does: serve the API only, execute runs only, or both. */
export const INSTANCE_ROLES = ['api', 'worker', 'both'] as const;
/** `api`, `worker` or `both`: see {@link INSTANCE_ROLES}. */
export type InstanceRole = (typeof INSTANCE_ROLES)[number];

export const INSTANCE_STATES = ['alive', 'lost'] as const;
/** `lost`: not seen for {@link INSTANCE_LOST_AFTER_BEATS} of its heartbeats. */
export type InstanceState = (typeof INSTANCE_STATES)[number];

/** An instance missing this many of its own heartbeats is shown as lost… */
export const INSTANCE_LOST_AFTER_BEATS = 3;
/** …and one missing this many is no longer listed, and is deleted by maintenance. */
export const INSTANCE_REMOVED_AFTER_BEATS = 10;

/** One OS process of the application, as it registers itself. */
export interface InstanceInfo {
  /** The id its worker claims runs with (`runs.worker_id`): unique per start. */
  id: string;
  host: string;
  pid: number;
  /** The Jobdeck version it runs. */
  version: string;
  role: InstanceRole;
  /** Runs at once; null for an API-only instance. */
  concurrency: number | null;
  /** How often it beats: its lost and removed thresholds count in these. */
  heartbeatMs: number;
  startedAt: Date;
}

/** A run an instance executes now. */
export interface InstanceRun {
  id: string;
  job: string;
  attempt: number;
  status: Extract<RunStatus, 'running' | 'cancelling'>;
  startedAt: Date | null;
}

/** An instance as listed: its registration, when it was last seen, and the runs it holds. */
export interface InstanceStatus extends InstanceInfo {
  lastSeenAt: Date;
  state: InstanceState;
  runs: InstanceRun[];
}
