/**
 * Jobdeck's words, in one place.
 *
 * - job: a definition registered in code (name, input schema, handler, options).
 * - run: one execution of a job, with an id, input, status, progress, items, logs, result or error.
 * - attempt: one try of a run; a retried run keeps its id and counts attempts. The attempt number
 *   is also the fence: every write of a try carries it, and the store refuses a stale one.
 * - item: one unit of a fan-out inside a run, with its own status.
 * - worker: the part of a process that claims runs from the store and executes them.
 * - instance: one OS process of the application (API, worker, or both).
 * - principal: who asks for something: a name and a role.
 */

/** Roles in increasing order of power. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
/** What a principal may do: `viewer` reads, `operator` starts and stops its own runs, `admin` anything. */
export type Role = (typeof ROLES)[number];

/** Who calls: a named token with a role, or the system itself. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

/**
 * The principal of work the system starts by itself (schedules, timeouts, expiry), and of the calls
 * of an embedded instance that name none (`deck.runs.create`, `deck.cancels.cancel`): an admin.
 */
export const SYSTEM_PRINCIPAL: Principal = Object.freeze({ name: 'system', role: 'admin' });

export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}
