import ms from 'ms';
import { JobdeckError } from './errors.js';

/** A duration as milliseconds or as text such as '30s', '5m', '1h', '7d'. */
export type Duration = number | string;

/** Milliseconds of a duration; refuses negative, zero-less-than and unreadable values. */
export function toMs(value: Duration, field = 'duration'): number {
  const result = typeof value === 'number' ? value : ms(value as ms.StringValue);
  if (typeof result !== 'number' || !Number.isFinite(result) || result < 0) {
    throw new JobdeckError('INVALID_INPUT', `${field} must be a non-negative duration`, {
      details: [{ path: [field], message: `cannot read ${JSON.stringify(value)} as a duration` }],
    });
  }
  return Math.round(result);
}

/** A span of milliseconds as short text: 850 ms, 12 s, 4 min, 2 h 10 min, 3 d 4 h. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/**
 * A duration as people write it in options (`every: '1h'`, `timeout: '90s'`): exact, in the
 * largest whole unit, so that `toMs` reads it back to the same value.
 */
export function writtenDuration(ms: number): string {
  const units = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const;
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
