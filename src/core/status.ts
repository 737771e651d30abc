/** Run statuses and the one table of allowed transitions. */

export const RUN_STATUSES = [
  'scheduled',
  'pending',
  'running',
  'cancelling',
  'paused',
  'waiting',
  'completed',
  'partial',
  'failed',
  'cancelled',
] as const;
/** Where a run is in its lifecycle (docs/concepts/lifecycle.md). */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** The statuses a run ends in; nothing changes it afterwards. */
export const TERMINAL_STATUSES = ['completed', 'partial', 'failed', 'cancelled'] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

/** Statuses in which a worker holds the run. */
export const ACTIVE_STATUSES = ['running', 'cancelling'] as const;
/** Statuses in which a run is queued: due or not yet, for a worker to claim (not `waiting`). */
export const QUEUED_STATUSES = ['scheduled', 'pending'] as const;
/**
 * Every status but the terminal ones: due or not yet, active, held by a pause until resumed, and
 * suspended until the child runs it waits for end.
 */
export const UNFINISHED_STATUSES = [
  ...QUEUED_STATUSES,
  ...ACTIVE_STATUSES,
  'paused',
  'waiting',
] as const;
export type UnfinishedStatus = (typeof UNFINISHED_STATUSES)[number];

/**
 * Every allowed transition. Anything not listed is refused. The stores mirror this table in CHECK
 * constraints on the status column and apply only conditional updates derived from it.
 */
export const TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  // Waiting for its time (delayed, or backing off before a retry); a pause holds it at once.
  scheduled: ['pending', 'running', 'cancelled', 'paused'],
  // Ready: claimed, cancelled/expired before it started, or held by a pause.
  pending: ['running', 'cancelled', 'paused'],
  // Held by a worker: finishes, backs off for a retry, is released on shutdown or rescued
  // after its lease expired, is asked to stop, ends its attempt at a checkpoint after a pause, or
  // suspends until the child runs it waits for end.
  running: [
    'completed',
    'partial',
    'failed',
    'cancelled',
    'cancelling',
    'scheduled',
    'pending',
    'paused',
    'waiting',
  ],
  // Graceful cancel asked: the handler stops at its next checkpoint (cancelled or partial), may
  // still complete or fail first, can be forced (cancelled), and is failed if its worker dies.
  cancelling: ['cancelled', 'partial', 'completed', 'failed'],
  // Held by nobody and never claimed: resumed (due at once), or cancelled.
  paused: ['pending', 'cancelled'],
  // Held by nobody until the child runs it waits for end (then due at once), or one of them fails;
  // cancelled, or held by a pause, meanwhile.
  waiting: ['pending', 'cancelled', 'paused'],
  completed: [],
  partial: [],
  failed: [],
  cancelled: [],
};

/** Whether a run with this status has finished. */
export function isTerminal(status: RunStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly RunStatus[]).includes(status);
}

/** Only a failed or cancelled run may be started again as a new run (a retry). */
export function isRetryable(status: string): boolean {
  return status === 'failed' || status === 'cancelled';
}

export function isActive(status: RunStatus): boolean {
  return (ACTIVE_STATUSES as readonly RunStatus[]).includes(status);
}

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The statuses from which `to` may be reached: what a conditional UPDATE's WHERE clause allows. */
export function statusesLeadingTo(to: RunStatus): RunStatus[] {
  return RUN_STATUSES.filter((from) => TRANSITIONS[from].includes(to));
}
