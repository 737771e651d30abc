/**
 * Checks over the ledger the ledger jobs write (test/helpers/ledger-jobs.ts): attempts of one run,
 * attempts of one run that overlap in time, and cancels no live handler observed; shared by the
 * process tests of both stores, scripts/soak-crash.ts and scripts/chaos-soak.ts.
 */
import type { CancelMode } from '../../src/core/cancellation.js';
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

/** A cancel the API accepted (200): the run, the attempt its answer named, and when it came. */
export interface AcceptedCancel {
  runId: string;
  attempt: number;
  mode: CancelMode;
  acceptedAt: number;
}

export interface UnobservedCancel extends AcceptedCancel {
  workerId: string;
  /** What the handler did instead of stopping. */
  evidence: string;
}

/**
 * Accepted cancels that did not reach the live handler of the attempt they named: the handler
 * went on `allowanceMs` after the acceptance (a graceful cancel: it started another step, i.e.
 * passed a checkpoint; a forced one: it did anything at all) or is still open at the end while its
 * process lives. A database outage starting within the allowance extends it to the outage's end
 * plus the allowance: nothing can be delivered meanwhile. Not counted: attempts that never
 * started, that observed the cancel (a `stopped` line with `cancel`), or that ended or whose
 * process died (`diedAt`) before the deadline — the cancel had nothing left to reach.
 */
export function unobservedCancels(
  lines: LedgerLine[],
  cancels: AcceptedCancel[],
  options: {
    allowanceMs: number;
    diedAt?: ReadonlyMap<string, number>;
    outages?: readonly { from: number; to: number }[];
  },
): UnobservedCancel[] {
  const outages = [...(options.outages ?? [])].sort((a, b) => a.from - b.from);
  const found: UnobservedCancel[] = [];
  for (const cancel of cancels) {
    const attempt = attemptsOf(lines, cancel.runId).get(cancel.attempt) ?? [];
    const start = attempt.find((line) => line.event === 'start');
    if (!start || attempt.some((line) => line.event === 'stopped' && line.cancel)) continue;
    let deadline = cancel.acceptedAt + options.allowanceMs;
    for (const outage of outages)
      if (outage.from <= deadline && outage.to >= cancel.acceptedAt)
        deadline = Math.max(deadline, outage.to + options.allowanceMs);
    const died = options.diedAt?.get(start.workerId);
    const ended = attempt.find((line) => line.event === 'end' || line.event === 'stopped');
    if ((died !== undefined && died <= deadline) || (ended && ended.t <= deadline)) continue;
    const wentOn = attempt.find(
      (line) =>
        line.t > deadline &&
        (cancel.mode === 'force' || line.event === 'start' || line.event === 'step-start'),
    );
    const after = (line: LedgerLine) => `${line.t - cancel.acceptedAt} ms after the cancel`;
    const evidence = wentOn
      ? `${wentOn.event}${wentOn.step === undefined ? '' : ` ${wentOn.step}`} ${after(wentOn)}`
      : ended || died !== undefined
        ? null
        : 'still running at the end';
    if (evidence) found.push({ ...cancel, workerId: start.workerId, evidence });
  }
  return found;
}
