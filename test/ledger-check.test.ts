/**
 * The ledger checks the process tests and the soaks trust (test/helpers/ledger-check.ts), on
 * ledgers written by hand: what counts as an overlap and as a cancel that did not reach a handler,
 * and what does not (a killed worker's attempt, a handler that had already finished).
 */
import { describe, expect, it } from 'vitest';
import { cancelVerdicts, overlappingAttempts } from './helpers/ledger-check.js';
import type { LedgerEvent, LedgerLine } from './helpers/ledger-jobs.js';

const line = (
  attempt: number,
  workerId: string,
  event: LedgerEvent,
  t: number,
  extra: Partial<LedgerLine> = {},
): LedgerLine => ({ runId: 'r1', attempt, workerId, pid: 1, event, t, ...extra });

describe('overlappingAttempts', () => {
  it('ends a killed worker’s open attempt at its death, so a later attempt does not overlap', () => {
    const ledger = [line(1, 'w1', 'start', 0), line(2, 'w2', 'start', 3000)];
    expect(overlappingAttempts(ledger, new Map([['w1', 500]]))).toEqual([]);
  });

  it('reports a later attempt that starts while an earlier one still runs', () => {
    const ledger = [
      line(1, 'w1', 'start', 0),
      line(2, 'w2', 'start', 3000),
      line(1, 'w1', 'end', 3500),
      line(2, 'w2', 'end', 4000),
    ];
    expect(overlappingAttempts(ledger)).toEqual(['r1: attempts 1 and 2']);
  });
});

describe('cancelVerdicts', () => {
  const at = 1000;
  const verdict = (
    ledger: LedgerLine[],
    mode: 'graceful' | 'force',
    options: Partial<Parameters<typeof cancelVerdicts>[2]> = {},
  ) =>
    cancelVerdicts(ledger, [{ runId: 'r1', attempt: 1, mode, acceptedAt: at }], {
      allowanceMs: 2000,
      ...options,
    })[0]!;

  it('counts a handler that stopped on the cancel as reached', () => {
    const ledger = [line(1, 'w1', 'start', 0), line(1, 'w1', 'stopped', 1100, { cancel: 'force' })];
    expect(verdict(ledger, 'force').fate).toBe('observed');
  });

  it('excuses a handler that finished, or whose process died, before it could be reached', () => {
    expect(verdict([line(1, 'w1', 'start', 0), line(1, 'w1', 'end', 1200)], 'force').fate).toBe(
      'ended',
    );
    const died = verdict([line(1, 'w1', 'start', 0)], 'force', { diedAt: new Map([['w1', 1500]]) });
    expect(died.fate).toBe('died');
    expect(verdict([], 'graceful').fate).toBe('not-started');
  });

  it('excuses a graceful cancel that arrived during the last step, however long', () => {
    const ledger = [
      line(1, 'w1', 'start', 0),
      line(1, 'w1', 'step-start', 900, { step: 0 }),
      line(1, 'w1', 'step-end', 9000, { step: 0 }),
      line(1, 'w1', 'end', 9001),
    ];
    expect(verdict(ledger, 'graceful').fate).toBe('ended');
  });

  it('reports a handler that passed a checkpoint, or worked on, long after the cancel', () => {
    const ledger = [
      line(1, 'w1', 'start', 0),
      line(1, 'w1', 'step-start', 500, { step: 0 }),
      line(1, 'w1', 'step-end', 4000, { step: 0 }),
      line(1, 'w1', 'step-start', 4001, { step: 1 }),
      line(1, 'w1', 'end', 4500),
    ];
    expect(verdict(ledger, 'graceful')).toMatchObject({
      fate: 'missed',
      evidence: 'step-start 1 3001 ms after the cancel',
    });
    expect(verdict(ledger, 'force')).toMatchObject({
      fate: 'missed',
      evidence: 'step-end 0 3000 ms after the cancel',
    });
    expect(verdict([line(1, 'w1', 'start', 0)], 'force').evidence).toBe('still running at the end');
  });

  it('waits out a database outage that began within the allowance', () => {
    const ledger = [
      line(1, 'w1', 'start', 0),
      line(1, 'w1', 'step-end', 6000, { step: 0 }),
      line(1, 'w1', 'stopped', 6100, { cancel: 'force' }),
    ];
    const withoutCancelSeen = ledger.slice(0, 2).concat(line(1, 'w1', 'end', 6200));
    expect(verdict(withoutCancelSeen, 'force').fate).toBe('missed');
    expect(verdict(withoutCancelSeen, 'force', { outages: [{ from: 2000, to: 5000 }] }).fate).toBe(
      'ended',
    );
  });
});
