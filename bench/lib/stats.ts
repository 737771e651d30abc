/** Small statistics helpers: every figure of the report goes through these. */

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  // Nearest-rank: the smallest value with at least p% of the samples at or below it.
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** The value of each repeat, in the order run. */
  runs: number[];
}

/** Median, min and max of the repeats of one measurement (NaN repeats are left out). */
export function summarize(values: readonly number[]): Summary {
  // NaN (a repeat that failed) is left out; Infinity (a run that never came) is kept.
  const finite = values.filter((v) => !Number.isNaN(v));
  const sorted = sortedCopy(finite);
  if (sorted.length === 0)
    return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [...values] };
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: [...values] };
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function latencySummary(samples: readonly number[]): LatencySummary {
  const sorted = sortedCopy(samples);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one host. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `check` until it returns true or `timeoutMs` passes; true if it did. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 5,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}
