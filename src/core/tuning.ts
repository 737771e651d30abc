import { JobdeckError } from './errors.js';

/**
 * The worker's timings: their defaults and the lowest values accepted. Below a minimum a loop
 * turns into a busy loop against the store, or a lease no longer outlives one missed renewal.
 * docs/reference/library.md lists them; a test keeps the two in step.
 */
export const WORKER_TUNING = {
  /** A claimed run is the worker's until its lease expires, unless renewed. */
  leaseMs: { default: 6000, min: 1000 },
  /** How often leases are renewed (at most half the lease: a lease outlives one missed renewal). */
  heartbeatMs: { default: 1000, min: 10 },
  /** How often an idle worker looks for runs when nothing wakes it. */
  pollMs: { default: 250, min: 10 },
  /** How often cancels of held runs are read when the store does not push them. */
  cancelPollMs: { default: 250, min: 10 },
} as const;

/**
 * The intervals of the maintenance passes: their defaults and the lowest values accepted (below,
 * a pass becomes a busy loop on the store). docs/reference/library.md lists them too.
 */
export const MAINTENANCE_TUNING = {
  /** The rescuer of expired leases, expiry of unstarted runs, promotion of due runs. */
  intervalMs: { default: 1000, min: 10 },
  /** Deletion of finished runs past their retention, old events and long-lost instances. */
  retentionIntervalMs: { default: 60_000, min: 10 },
  /** The check of running attempts against their job's stuckAfter. */
  stuckCheckMs: { default: 60_000, min: 10 },
} as const;

export type WorkerTimings = { -readonly [K in keyof typeof WORKER_TUNING]: number };

/**
 * The worker's timings with their defaults, checked: each an integer at or above its minimum,
 * the heartbeat at most half the lease. `name` says how the caller spells each setting (an option
 * path, an environment variable), so the error names what to change.
 */
export function workerTimings(
  given: Partial<Record<keyof WorkerTimings, number | undefined>>,
  name: (key: keyof WorkerTimings) => string = (key) => `worker.${key}`,
): WorkerTimings {
  const timings = {} as WorkerTimings;
  for (const key of Object.keys(WORKER_TUNING) as (keyof WorkerTimings)[]) {
    const value = given[key] ?? WORKER_TUNING[key].default;
    const { min } = WORKER_TUNING[key];
    if (!Number.isInteger(value) || value < min) {
      throw new JobdeckError(
        'INVALID_INPUT',
        `${name(key)} must be a whole number of milliseconds of at least ${min}, not ${value}.`,
      );
    }
    timings[key] = value;
  }
  if (timings.heartbeatMs * 2 > timings.leaseMs) {
    const shown = (key: keyof WorkerTimings) =>
      `${name(key)} (${timings[key]}${given[key] === undefined ? ', the default' : ''})`;
    throw new JobdeckError(
      'INVALID_INPUT',
      `${shown('heartbeatMs')} must be at most half of ${shown('leaseMs')}, so that a lease outlives one missed renewal.`,
    );
  }
  return timings;
}

/** A maintenance interval with its default, checked: a whole number of ms, at least its minimum. */
export function maintenanceInterval(
  key: keyof typeof MAINTENANCE_TUNING,
  value: number | undefined,
): number {
  const { default: fallback, min } = MAINTENANCE_TUNING[key];
  const ms = value ?? fallback;
  if (!Number.isInteger(ms) || ms < min) {
    throw new JobdeckError(
      'INVALID_INPUT',
      `maintenance.${key} must be a whole number of milliseconds of at least ${min}, not ${ms}.`,
    );
  }
  return ms;
}
