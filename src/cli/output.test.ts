import { describe, expect, it } from 'vitest';
import type { RunInfo } from '../client/client.js';
import { describeRun } from './output.js';

const running = {
  id: '01a235d2-a149-758f-95c5-69e4341bbdda',
  job: 'reports.sync',
  status: 'running',
  attempt: 1,
  maxAttempts: 3,
  progress: { percent: 40 },
  cancel: null,
  error: null,
  stuckAt: null,
} as unknown as RunInfo;

describe('describeRun', () => {
  it('one line: id, job, status, progress, attempt; a stuck run says since when', () => {
    expect(describeRun(running)).toBe(
      '01a235d2-a149-758f-95c5-69e4341bbdda reports.sync running 40% attempt 1/3',
    );
    expect(describeRun({ ...running, stuckAt: '2026-12-02T08:00:00.000Z' })).toBe(
      '01a235d2-a149-758f-95c5-69e4341bbdda reports.sync running 40% attempt 1/3 (stuck since 2026-12-02T08:00:00.000Z)',
    );
  });
});
