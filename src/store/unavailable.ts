import { backoffDelay } from '../core/backoff.js';

/** Errors that mean the database cannot be reached right now (busy, locked, connection refused). */
export function isStoreUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    typeof code === 'string' &&
    [
      'SQLITE_BUSY',
      'SQLITE_LOCKED',
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      '57P01',
      '57P03',
      '08006',
      '08001',
    ].includes(code)
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
