// The run statuses as the dashboard groups them; apart from api.ts so pure modules (and their
// tests in Node) can use them without the client, which needs a page.

// Every unfinished status: a paused run, or one waiting for its child runs, is not done, and may
// still be stopped.
export const ACTIVE_STATUSES = [
  'scheduled',
  'pending',
  'running',
  'cancelling',
  'paused',
  'waiting',
] as const;
export const FINAL_STATUSES = ['completed', 'partial', 'failed', 'cancelled'] as const;
export const RUN_STATUSES = [...ACTIVE_STATUSES, ...FINAL_STATUSES] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type FinalStatus = (typeof FINAL_STATUSES)[number];

export const isActive = (status: string) => (ACTIVE_STATUSES as readonly string[]).includes(status);

export { isRetryable } from '../../core/status.js';
