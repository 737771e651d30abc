import { describe, expect, it } from 'vitest';
import type { StatsInfo } from '../../client/client.js';
import {
  CHART_RANGES,
  formatDurationTick,
  isChartRange,
  peakIndex,
  statsSeries,
} from './stats-series.js';

const MINUTE = 60_000;
const FROM = Date.UTC(2030, 0, 1, 12);
const at = (minutes: number) => new Date(FROM + minutes * MINUTE).toISOString();

function bucket(
  minutes: number,
  job: string,
  ended: Partial<Record<'completed' | 'partial' | 'failed' | 'cancelled', number>>,
  p95: number | null,
): StatsInfo['buckets'][number] {
  return {
    start: at(minutes),
    job,
    created: 0,
    started: 0,
    ended: { completed: 0, partial: 0, failed: 0, cancelled: 0, ...ended },
    durationMs: p95 === null ? null : { p50: p95 / 2, p95 },
    queueWaitMs: null,
  };
}

function stats(buckets: StatsInfo['buckets']): StatsInfo {
  return {
    from: at(0),
    to: at(5),
    bucket: '1m',
    bucketMs: MINUTE,
    buckets,
    now: {
      at: at(5),
      unfinished: { scheduled: 0, pending: 0, running: 0, cancelling: 0, paused: 0, waiting: 0 },
      oldestPending: null,
    },
  };
}

describe('statsSeries', () => {
  it('has a point for every bucket of the window, empty ones at zero and without a duration', () => {
    const series = statsSeries(stats([bucket(3, 'a', { failed: 2 }, 900)]));
    expect(series.x).toEqual([0, 1, 2, 3, 4].map((m) => (FROM + m * MINUTE) / 1000));
    expect(series.ended.failed).toEqual([0, 0, 0, 2, 0]);
    expect(series.ended.completed).toEqual([0, 0, 0, 0, 0]);
    expect(series.slowestP95).toEqual([null, null, null, 900, null]);
    expect(series.slowestJob).toEqual([null, null, null, 'a', null]);
  });

  it('adds up the jobs of a bucket per status and keeps the slowest job’s p95', () => {
    const series = statsSeries(
      stats([
        bucket(1, 'a', { completed: 3, cancelled: 1 }, 400),
        bucket(1, 'b', { completed: 1, partial: 1 }, 7_000),
        bucket(1, 'c', { failed: 1 }, 50),
        // A run cancelled before it started has no duration.
        bucket(2, 'd', { cancelled: 1 }, null),
      ]),
    );
    expect(series.ended).toEqual({
      completed: [0, 4, 0, 0, 0],
      partial: [0, 1, 0, 0, 0],
      failed: [0, 1, 0, 0, 0],
      cancelled: [0, 1, 1, 0, 0],
    });
    expect(series.slowestP95).toEqual([null, 7_000, null, null, null]);
    expect(series.slowestJob[1]).toBe('b');
  });
});

describe('chart helpers', () => {
  it('each range stays within the 1,000 buckets the API allows', () => {
    const sizes = { '1m': MINUTE, '5m': 5 * MINUTE, '1h': 60 * MINUTE };
    for (const range of Object.values(CHART_RANGES))
      expect(range.spanMs / sizes[range.bucket] + 1).toBeLessThanOrEqual(1000);
  });

  it('knows its ranges, finds the peak, writes short ticks', () => {
    expect(isChartRange('week')).toBe(true);
    expect(isChartRange('toString')).toBe(false);
    expect(isChartRange(null)).toBe(false);
    expect(peakIndex([null, 3, 9, null, 9])).toBe(2);
    expect(peakIndex([null, null])).toBe(null);
    expect([500, 1_500, 15_000, 90_000, 7_200_000].map(formatDurationTick)).toEqual([
      '500 ms',
      '1.5 s',
      '15 s',
      '1.5 min',
      '2 h',
    ]);
  });
});
