/**
 * Checks over the ledger the ledger jobs write (test/helpers/ledger-jobs.ts): attempts of one run,
 * and attempts of one run that overlap in time; shared by the process tests of both stores and
 * scripts/soak-crash.ts.
 */
import type { LedgerLine } from './ledger-jobs.js';

/** Ledger lines of one run, grouped by attempt. */
export function attemptsOf(lines: LedgerLine[], runId: string): Map<number, LedgerLine[]> {
  const byAttempt = new Map<number, LedgerLine[]>();
  for (const line of lines) {
    if (line.runId !== runId) continue;
    const list = byAttempt.get(line.attempt) ?? [];
    list.push(line);
    byAttempt.set(line.attempt, list);
  }
  return byAttempt;
}

/**
 * Every pair of attempts of the same run whose [start, end] intervals overlap. An attempt without
 * an `end` (or `stopped`) line is treated as still running — unless its worker is known dead
 * (`diedAt`: workerId → a time by which it was dead) — so a later attempt starting while it is
 * open counts as an overlap.
 */
export function overlappingAttempts(
  lines: LedgerLine[],
  diedAt: ReadonlyMap<string, number> = new Map(),
): string[] {
  const intervals = new Map<string, { attempt: number; from: number; to: number }[]>();
  const open = new Map<
    string,
    { runId: string; attempt: number; workerId: string; from: number }
  >();
  for (const line of [...lines].sort((a, b) => a.t - b.t)) {
    const key = `${line.runId}#${line.attempt}`;
    if (line.event === 'start') {
      open.set(key, {
        runId: line.runId,
        attempt: line.attempt,
        workerId: line.workerId,
        from: line.t,
      });
    } else if (line.event === 'end' || line.event === 'stopped') {
      const started = open.get(key);
      if (!started) continue;
      open.delete(key);
      const list = intervals.get(line.runId) ?? [];
      list.push({ attempt: line.attempt, from: started.from, to: line.t });
      intervals.set(line.runId, list);
    }
  }
  for (const started of open.values()) {
    const list = intervals.get(started.runId) ?? [];
    const to = diedAt.get(started.workerId) ?? Number.POSITIVE_INFINITY;
    list.push({ attempt: started.attempt, from: started.from, to });
    intervals.set(started.runId, list);
  }
  const overlaps: string[] = [];
  for (const [runId, list] of intervals) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i]!;
        const b = list[j]!;
        if (a.from <= b.to && b.from <= a.to)
          overlaps.push(`${runId}: attempts ${a.attempt} and ${b.attempt}`);
      }
    }
  }
  return overlaps;
}
