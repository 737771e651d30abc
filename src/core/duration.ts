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
