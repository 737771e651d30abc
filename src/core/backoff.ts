import { toMs, type Duration } from './duration.js';

/** How long to wait before the next attempt: exponential, bounded, with jitter. */
export interface BackoffOptions {
  /** Delay before the second attempt. Default 1 s. */
  base?: Duration;
  /** Upper bound of any delay. Default 1 h. */
  max?: Duration;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Fraction of the delay drawn at random, 0..1. Default 0.2 ("equal-ish" jitter). */
  jitter?: number;
}

/**
 * The delay after `attempt` failed (attempt 1 is the first try). `random` is injectable so the
 * result is reproducible in tests.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const base = toMs(options.base ?? 1000, 'backoff.base');
  const max = toMs(options.max ?? 3_600_000, 'backoff.max');
  const factor = options.factor ?? 2;
  const jitter = Math.min(Math.max(options.jitter ?? 0.2, 0), 1);
  const exponent = Math.max(0, attempt - 1);
  const raw = Math.min(max, base * Math.pow(factor, exponent));
  const spread = raw * jitter;
  return Math.round(Math.min(max, raw - spread + random() * spread * 2));
}
