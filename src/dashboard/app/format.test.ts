import { describe, expect, it } from 'vitest';
import { formatWindow, runDuration } from './format.js';

describe('formatWindow', () => {
  it('names a window in its largest whole unit', () => {
    expect([60_000, 30_000, 7_200_000, 86_400_000, 250, 1500, 90_000].map(formatWindow)).toEqual([
      '1 min',
      '30 s',
      '2 h',
      '1 d',
      '250 ms',
      '1500 ms',
      '90 s',
    ]);
  });
});

describe('runDuration', () => {
  const first = '2026-12-03T08:00:00.000Z';
  const last = '2026-12-03T08:00:03.000Z';
  const end = '2026-12-03T08:00:03.009Z';

  it('counts from the first attempt: a parent that waited for its children took all of it', () => {
    expect(runDuration({ firstStartedAt: first, startedAt: last, finishedAt: end })).toBe('3.0 s');
  });

  it('from the start of the only attempt when the first is not known, and — before any', () => {
    expect(runDuration({ startedAt: last, finishedAt: end })).toBe('9 ms');
    expect(runDuration({ firstStartedAt: null, startedAt: null, finishedAt: null })).toBe('—');
  });

  it('while under way, up to now', () => {
    const now = Date.parse(first) + 90_000;
    expect(runDuration({ firstStartedAt: first, startedAt: last, finishedAt: null }, now)).toBe(
      '1 min 30 s',
    );
  });
});
