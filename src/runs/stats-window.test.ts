import { describe, expect, it } from 'vitest';
import { hasErrorCode, type JobdeckError } from '../core/errors.js';
import { statsWindow } from './stats-window.js';

const HOUR = 3_600_000;
const NOW = new Date(Date.UTC(2030, 0, 1, 12, 34, 56, 789));

/** The field an INVALID_INPUT from `statsWindow` names. */
function refusedField(request: Parameters<typeof statsWindow>[0]): unknown {
  try {
    statsWindow(request, NOW);
  } catch (err) {
    expect(hasErrorCode(err, 'INVALID_INPUT')).toBe(true);
    return (err as JobdeckError).details?.[0]?.path[0];
  }
  throw new Error('the window was accepted');
}

describe('statsWindow', () => {
  it('defaults to the 24 h before now in 1 h buckets, widened to whole hours', () => {
    expect(statsWindow({}, NOW)).toEqual({
      from: new Date(Date.UTC(2029, 11, 31, 12)),
      to: new Date(Date.UTC(2030, 0, 1, 13)),
      bucket: '1h',
      bucketMs: HOUR,
    });
  });

  it('aligns days to UTC midnight and keeps a window already on the grid', () => {
    const day = statsWindow({ from: new Date(Date.UTC(2030, 0, 1, 5)), bucket: '1d' }, NOW);
    expect([day.from, day.to]).toEqual([
      new Date(Date.UTC(2030, 0, 1)),
      new Date(Date.UTC(2030, 0, 2)),
    ]);
    const from = new Date(Date.UTC(2030, 0, 1, 10));
    const to = new Date(Date.UTC(2030, 0, 1, 11));
    expect(statsWindow({ from, to, bucket: '5m' }, NOW)).toMatchObject({ from, to });
  });

  it('allows 1,000 buckets and refuses 1,001, naming bucket', () => {
    const to = new Date(Date.UTC(2030, 0, 1, 12));
    const from = (minutes: number) => new Date(to.getTime() - minutes * 60_000);
    expect(() => statsWindow({ from: from(1000), to, bucket: '1m' }, NOW)).not.toThrow();
    expect(refusedField({ from: from(1001), to, bucket: '1m' })).toBe('bucket');
  });

  it('refuses a window that does not go forward or starts before the epoch, naming from', () => {
    expect(refusedField({ from: NOW, to: NOW })).toBe('from');
    expect(refusedField({ from: new Date(NOW.getTime() + 1) })).toBe('from');
    expect(refusedField({ from: new Date(-1), to: new Date(HOUR) })).toBe('from');
    expect(refusedField({ to: new Date(Number.NaN) })).toBe('to');
  });
});
