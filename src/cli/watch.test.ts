import { describe, expect, it } from 'vitest';
import { progressLine } from './watch.js';

const startedAt = '2026-12-02T08:00:00.000Z';
const start = Date.parse(startedAt);
const progress = (processed: number, total: number, message: string | null = null) => ({
  processed,
  total,
  percent: Math.round((processed / total) * 10_000) / 100,
  message,
});

describe('progressLine', () => {
  it('a run that waits: its status only', () => {
    expect(progressLine({ status: 'pending', progress: null, startedAt: null }, start)).toBe(
      'pending',
    );
  });

  it('a running run: percent, processed/total, message, elapsed, and the ETA at its pace', () => {
    const run = { status: 'running' as const, progress: progress(3, 10, 'batch 3'), startedAt };
    expect(progressLine({ ...run, progressAt: start + 6000 }, start + 6000)).toBe(
      'running 30% · 3/10 · batch 3 · 6 s elapsed · ETA 14 s',
    );
  });

  it('between two updates the ETA counts down instead of growing with the elapsed time', () => {
    const run = { status: 'running' as const, progress: progress(1, 4), startedAt };
    const at = start + 10_000;
    expect(progressLine({ ...run, progressAt: at }, at)).toMatch(/ · ETA 30 s$/);
    expect(progressLine({ ...run, progressAt: at }, at + 5000)).toMatch(
      / · 15 s elapsed · ETA 25 s$/,
    );
    // Late against the pace: no negative time.
    expect(progressLine({ ...run, progressAt: at }, at + 60_000)).toMatch(/ · ETA now$/);
  });

  it('no ETA without progress, once done, or while cancelling', () => {
    expect(progressLine({ status: 'running', progress: null, startedAt }, start + 2000)).toBe(
      'running · 2 s elapsed',
    );
    expect(
      progressLine({ status: 'cancelling', progress: progress(2, 4), startedAt }, start + 4000),
    ).toBe('cancelling 50% · 2/4 · 4 s elapsed');
    expect(
      progressLine({ status: 'completed', progress: progress(4, 4), startedAt }, start + 9000),
    ).toBe('completed 100% · 4/4');
  });
});
