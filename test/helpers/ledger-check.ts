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

/** What became of an accepted cancel, by the ledger. */
export type CancelFate =
  /** The handler stopped because of it (a `stopped` line with `cancel`). */
  | 'observed'
  /** No handler of that attempt ever started: nothing to reach. */
  | 'not-started'
  /** The handler ended before it could be reached. */
  | 'ended'
  /** The handler's process died before it could be reached. */
  | 'died'
  /** The handler lived on without it: a cancel that did not reach a live handler. */
  | 'missed';

export interface CancelVerdict extends AcceptedCancel {
  fate: CancelFate;
  workerId?: string;
  /** For `missed`: what the handler did instead of stopping. */
  evidence?: string;
}

/**
 * What became of each accepted cancel. It is `missed` when the handler of the attempt it named
 * went on `allowanceMs` after the acceptance — for a graceful cancel it started another step, i.e.
 * passed a checkpoint; for a forced one it did anything at all — or is still open at the end while
 * its process lives. A database outage starting within the allowance extends it to the outage's
 * end plus the allowance: nothing can be delivered meanwhile. A handler that ended, or whose
 * process died (`diedAt`), before that deadline had nothing left for the cancel to reach.
 */
export function cancelVerdicts(
  lines: LedgerLine[],
  cancels: AcceptedCancel[],
  options: {
    allowanceMs: number;
    diedAt?: ReadonlyMap<string, number>;
    outages?: readonly { from: number; to: number }[];
  },
): CancelVerdict[] {
  const outages = [...(options.outages ?? [])].sort((a, b) => a.from - b.from);
  return cancels.map((cancel): CancelVerdict => {
    const attempt = attemptsOf(lines, cancel.runId).get(cancel.attempt) ?? [];
    const start = attempt.find((line) => line.event === 'start');
    if (!start) return { ...cancel, fate: 'not-started' };
    const workerId = start.workerId;
    if (attempt.some((line) => line.event === 'stopped' && line.cancel))
      return { ...cancel, fate: 'observed', workerId };
    let deadline = cancel.acceptedAt + options.allowanceMs;
    for (const outage of outages)
      if (outage.from <= deadline && outage.to >= cancel.acceptedAt)
        deadline = Math.max(deadline, outage.to + options.allowanceMs);
    const died = options.diedAt?.get(workerId);
    const ended = attempt.find((line) => line.event === 'end' || line.event === 'stopped');
    if (ended && ended.t <= deadline && (died === undefined || ended.t <= died))
      return { ...cancel, fate: 'ended', workerId };
    if (died !== undefined && died <= deadline) return { ...cancel, fate: 'died', workerId };
    const wentOn = attempt.find(
      (line) =>
        line.t > deadline &&
        (cancel.mode === 'force' || line.event === 'start' || line.event === 'step-start'),
    );
    const after = (line: LedgerLine) => `${line.t - cancel.acceptedAt} ms after the cancel`;
    if (wentOn) {
      const step = wentOn.step === undefined ? '' : ` ${wentOn.step}`;
      return {
        ...cancel,
        fate: 'missed',
        workerId,
        evidence: `${wentOn.event}${step} ${after(wentOn)}`,
      };
    }
    if (!ended && died === undefined)
      return { ...cancel, fate: 'missed', workerId, evidence: 'still running at the end' };
    // Ended (or died) after the deadline, but a graceful cancel's last step was already under way.
    return { ...cancel, fate: ended ? 'ended' : 'died', workerId };
  });
}
