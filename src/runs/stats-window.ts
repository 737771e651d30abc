import { invalidField } from '../core/errors.js';

/** The bucket sizes statistics come in. */
export const STATS_BUCKETS = {
  '1m': 60_000,
  '5m': 300_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
} as const;
/** The width of a statistics bucket: `1m`, `5m`, `1h` or `1d`. */
export type StatsBucket = keyof typeof STATS_BUCKETS;

/** More buckets than this in one answer are refused: choose a larger bucket or a shorter window. */
export const MAX_STATS_BUCKETS = 1000;
/** The window when `from` is not given: this long before `to`. */
export const DEFAULT_STATS_SPAN_MS = 24 * 3_600_000;
export const DEFAULT_STATS_BUCKET: StatsBucket = '1h';

/** The window statistics cover: whole buckets, aligned to their size from the epoch (UTC). */
export interface StatsWindow {
  from: Date;
  to: Date;
  bucket: StatsBucket;
  bucketMs: number;
}

/**
 * The window of a statistics request: `to` defaults to `now`, `from` to 24 h before `to`, the
 * bucket to 1 h; `from` is moved back and `to` forward to whole buckets. Refuses (INVALID_INPUT,
 * naming the field) a window that does not go forward, starts before the epoch, or holds more
 * than {@link MAX_STATS_BUCKETS} buckets.
 */
export function statsWindow(
  request: { from?: Date; to?: Date; bucket?: StatsBucket },
  now: Date,
): StatsWindow {
  const bucket = request.bucket ?? DEFAULT_STATS_BUCKET;
  const bucketMs = STATS_BUCKETS[bucket];
  if (bucketMs === undefined) throw invalidField('bucket', `must be one of ${bucketNames()}`);
  const to = (request.to ?? now).getTime();
  const from = request.from?.getTime() ?? to - DEFAULT_STATS_SPAN_MS;
  if (Number.isNaN(to)) throw invalidField('to', 'is not a time');
  if (Number.isNaN(from)) throw invalidField('from', 'is not a time');
  if (from < 0) throw invalidField('from', 'must not be before 1970-01-01T00:00:00Z');
  if (from >= to) throw invalidField('from', 'must be before to');
  const alignedFrom = Math.floor(from / bucketMs) * bucketMs;
  const alignedTo = Math.ceil(to / bucketMs) * bucketMs;
  const count = (alignedTo - alignedFrom) / bucketMs;
  if (count > MAX_STATS_BUCKETS) {
    throw invalidField(
      'bucket',
      `${count} buckets of ${bucket} from ${new Date(from).toISOString()} to ${new Date(to).toISOString()}; at most ${MAX_STATS_BUCKETS}: choose a larger bucket or a shorter window`,
    );
  }
  return { from: new Date(alignedFrom), to: new Date(alignedTo), bucket, bucketMs };
}

function bucketNames(): string {
  return Object.keys(STATS_BUCKETS).join(', ');
}
