import type { StatsBucket, StatsInfo } from '../../client/client.js';
import { FINAL_STATUSES, type FinalStatus } from './statuses.js';

/** The overview's chart ranges: each a window before now and a bucket that keeps it readable. */
export const CHART_RANGES = {
  hour: { label: 'Hour', spanMs: 3_600_000, bucket: '1m', words: 'the last hour', per: 'minute' },
  day: {
    label: 'Day',
    spanMs: 86_400_000,
    bucket: '5m',
    words: 'the last 24 hours',
    per: '5 minutes',
  },
  week: { label: 'Week', spanMs: 604_800_000, bucket: '1h', words: 'the last 7 days', per: 'hour' },
} as const satisfies Record<
  string,
  { label: string; spanMs: number; bucket: StatsBucket; words: string; per: string }
>;
export type ChartRange = keyof typeof CHART_RANGES;

export const isChartRange = (value: string | null): value is ChartRange =>
  value !== null && Object.hasOwn(CHART_RANGES, value);

/** The statistics as chart series: one point per bucket of the window, empty buckets included. */
export interface StatsSeries {
  /** Bucket starts in seconds since the epoch (uPlot's time unit). */
  x: number[];
  /** Runs that ended in each bucket, per final status, over all jobs. */
  ended: Record<FinalStatus, number[]>;
  /**
   * The highest of the jobs' p95 durations in each bucket (ms), or null when no run with a
   * duration ended there. Percentiles of different jobs do not merge; this one is never below
   * the p95 of all the bucket's runs together, so it is an honest upper bound.
   */
  slowestP95: (number | null)[];
  /** The job whose p95 that is. */
  slowestJob: (string | null)[];
}

export function statsSeries(stats: StatsInfo): StatsSeries {
  const from = Date.parse(stats.from);
  const size = stats.bucketMs;
  const count = Math.round((Date.parse(stats.to) - from) / size);
  const x = Array.from({ length: count }, (_, i) => (from + i * size) / 1000);
  const ended = Object.fromEntries(
    FINAL_STATUSES.map((status) => [status, new Array<number>(count).fill(0)]),
  ) as Record<FinalStatus, number[]>;
  const slowestP95 = new Array<number | null>(count).fill(null);
  const slowestJob = new Array<string | null>(count).fill(null);
  for (const bucket of stats.buckets) {
    const i = Math.round((Date.parse(bucket.start) - from) / size);
    if (i < 0 || i >= count) continue;
    for (const status of FINAL_STATUSES) ended[status][i]! += bucket.ended[status];
    const p95 = bucket.durationMs?.p95;
    const current = slowestP95[i];
    if (p95 !== undefined && (current === null || current === undefined || p95 > current)) {
      slowestP95[i] = p95;
      slowestJob[i] = bucket.job;
    }
  }
  return { x, ended, slowestP95, slowestJob };
}

/** The bucket with the highest value, or null when every bucket is empty. */
export function peakIndex(values: (number | null)[]): number | null {
  let peak: number | null = null;
  values.forEach((value, i) => {
    if (value !== null && (peak === null || value > values[peak]!)) peak = i;
  });
  return peak;
}

/** Nice y-axis steps for a duration in milliseconds: 1-2-5 below a second, clock steps above. */
export const DURATION_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000,
  300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000,
  86_400_000,
];

/** An axis tick for a duration on those steps, short: 500 ms, 15 s, 2 min, 6 h. */
export function formatDurationTick(ms: number): string {
  const trim = (n: number) => String(Number(n.toFixed(1)));
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${trim(ms / 1000)} s`;
  if (ms < 3_600_000) return `${trim(ms / 60_000)} min`;
  return `${trim(ms / 3_600_000)} h`;
}
