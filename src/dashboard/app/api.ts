import { ApiError, JobdeckClient } from '../../client/client.js';
import type { JobInfo, LogInfo, RunDetailInfo, RunInfo, StatsInfo } from '../../client/client.js';

export { ApiError };
export {
  ACTIVE_STATUSES,
  FINAL_STATUSES,
  RUN_STATUSES,
  isActive,
  isRetryable,
  type FinalStatus,
  type RunStatus,
} from './statuses.js';
export type { JobInfo, LogInfo, RunDetailInfo, RunInfo, StatsInfo };

/** The signed-in principal and role, as GET /api/session tells. */
export interface Session {
  principal: string;
  role: 'viewer' | 'operator' | 'admin';
}

/**
 * The typed client over the session cookie. Every call sends the header that lets a cookie
 * session change state; a 401 means the session ended, so the page reloads into the sign-in page.
 */
export const client = new JobdeckClient({
  url: location.origin,
  fetch: async (input, init) => {
    const response = await fetch(input, {
      ...init,
      credentials: 'same-origin',
      headers: { ...(init?.headers as Record<string, string>), 'x-jobdeck-request': '1' },
    });
    if (response.status === 401) location.reload();
    return response;
  },
});

/**
 * The text to show for a failed call: each field's problem when the API names fields (`labels`
 * gives a path the name its control has on the page), else the API's message, or why the server
 * was not reached.
 */
export function errorText(err: unknown, labels: Readonly<Record<string, string>> = {}): string {
  const fields = fieldErrors(err);
  // A problem with no field (the whole request) is best said by the API's own message.
  if (fields.size && !fields.has(''))
    return [...fields].map(([path, message]) => `${labels[path] ?? path}: ${message}`).join('; ');
  return err instanceof Error ? err.message : String(err);
}

/** Field errors of an INVALID_INPUT answer, by path (`input.steps`; '' for the whole request). */
export function fieldErrors(err: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  if (!(err instanceof ApiError)) return fields;
  const details = (err.body as { details?: { path: (string | number)[]; message: string }[] })
    ?.details;
  for (const detail of details ?? []) {
    const path = detail.path.join('.');
    // Several problems at one path (an array's items) are all worth reading.
    const before = fields.get(path);
    fields.set(path, before ? `${before}; ${detail.message}` : detail.message);
  }
  return fields;
}

/** Who may stop or retry a run: its creator or an admin (the API's ownership rule). */
export function mayAct(session: Session, run: RunInfo): boolean {
  return (
    session.role === 'admin' || (session.role === 'operator' && run.createdBy === session.principal)
  );
}
