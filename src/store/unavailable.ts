import { backoffDelay } from '../core/backoff.js';

/**
 * Errors that mean the database cannot be used right now: SQLite busy or locked, and what the
 * PostgreSQL store reports as STORE_UNAVAILABLE (refused, lost or starved connections).
 */
export function isStoreUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    typeof code === 'string' && ['STORE_UNAVAILABLE', 'SQLITE_BUSY', 'SQLITE_LOCKED'].includes(code)
  );
}

/** Retries of a write the store could not take: quick at first, then at most once a second. */
const RETRY_BACKOFF = { base: 50, factor: 2, max: 1000, jitter: 0.2 };

/**
 * Run `write`, retrying while the store is unavailable (busy, connection reset) for up to `forMs`
 * (an attempt's writes are worth retrying while its lease may still hold). Other errors, and the
 * last unavailable one, are thrown.
 */
export async function retryWhileUnavailable<T>(
  write: () => Promise<T>,
  options: { forMs: number; onRetry?: (err: unknown) => void },
): Promise<T> {
  const deadline = Date.now() + options.forMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      const wait = backoffDelay(attempt, RETRY_BACKOFF);
      if (!isStoreUnavailable(err) || Date.now() + wait > deadline) throw err;
      options.onRetry?.(err);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
