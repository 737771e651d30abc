import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';
import { CANCEL_TABLE } from './cancellation.js';
import { TestClock } from './clock.js';
import { toMs, writtenDuration } from './duration.js';
import { ERROR_CODES, toRunError } from './errors.js';
import { newRunId } from './ids.js';
import { runAttemptHistory, type Run, type RunAttempt } from './run.js';
import { countOf, findUnstorableText, isStorableText } from './text.js';
import { maintenanceInterval, workerTimings } from './tuning.js';
import { RUN_STATUSES, TERMINAL_STATUSES, TRANSITIONS, canTransition } from './status.js';

describe('transition table', () => {
  it('lets terminal statuses go nowhere', () => {
    for (const status of TERMINAL_STATUSES) expect(TRANSITIONS[status]).toEqual([]);
  });

  it.each(['sqlite', 'postgres'])('is mirrored exactly by the %s trigger', (backend) => {
    // The latest migration that (re)defines the trigger holds its pairs.
    const dir = new URL(`../store/${backend}/migrations/`, import.meta.url);
    const sql = readdirSync(dir)
      .sort()
      .map((file) => readFileSync(new URL(file, dir), 'utf8'))
      .filter((text) => /\('scheduled','pending'\)/.test(text))
      .at(-1)!;
    // The trigger's pairs are the only `('from','to')` tuples written without a space.
    const pairs = [...sql.matchAll(/\('(\w+)','(\w+)'\)/g)].map((m) => `${m[1]}->${m[2]}`).sort();
    const table = RUN_STATUSES.flatMap((from) =>
      TRANSITIONS[from].map((to) => `${from}->${to}`),
    ).sort();
    expect(pairs).toEqual(table);
  });

  it('never lets a cancelled or cancelling run be retried', () => {
    expect(canTransition('cancelling', 'scheduled')).toBe(false);
    expect(canTransition('cancelling', 'pending')).toBe(false);
    expect(canTransition('cancelled', 'scheduled')).toBe(false);
  });

  it('the cancellation table covers every status and mode', () => {
    for (const status of RUN_STATUSES) {
      expect(Object.keys(CANCEL_TABLE[status]).sort()).toEqual(['force', 'graceful']);
    }
    expect(CANCEL_TABLE.running).toEqual({ graceful: 'request', force: 'force' });
    expect(CANCEL_TABLE.cancelling).toEqual({ graceful: 'unchanged', force: 'force' });
  });
});

describe('backoff', () => {
  it('grows exponentially, stays within bounds and jitters', () => {
    const noJitter = { base: 100, factor: 2, max: 1000, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, noJitter))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    const low = backoffDelay(3, { base: 100, jitter: 0.5 }, () => 0);
    const high = backoffDelay(3, { base: 100, jitter: 0.5 }, () => 0.999);
    expect(low).toBe(200);
    expect(high).toBeGreaterThan(590);
    expect(high).toBeLessThanOrEqual(600);
  });
});

describe('small parts', () => {
  it('reads durations and refuses nonsense', () => {
    expect(toMs('30m')).toBe(1_800_000);
    expect(toMs(250)).toBe(250);
    expect(() => toMs('soon')).toThrow(/duration/);
    expect(() => toMs(-1)).toThrow(/duration/);
  });

  it('writes durations as people write them, exactly, and reads them back', () => {
    const written = [3_600_000, 5_400_000, 90_000, 86_400_000, 1500, 1000].map(writtenDuration);
    expect(written).toEqual(['1h', '90m', '90s', '1d', '1500ms', '1s']);
    expect(written.map((text) => toMs(text))).toEqual([
      3_600_000, 5_400_000, 90_000, 86_400_000, 1500, 1000,
    ]);
  });

  it('run ids sort by creation time', () => {
    const ids = Array.from({ length: 50 }, () => newRunId());
    expect([...ids].sort()).toEqual(ids);
  });

  it('the test clock only moves when told', () => {
    const clock = new TestClock(1000);
    expect(clock.now().getTime()).toBe(1000);
    clock.advance(500);
    expect(clock.now().getTime()).toBe(1500);
  });

  it('keeps a thrown error code and falls back to HANDLER_ERROR', () => {
    expect(toRunError(Object.assign(new Error('x'), { code: 'E_X' }))).toEqual({
      code: 'E_X',
      message: 'x',
    });
    expect(toRunError('plain')).toEqual({ code: 'HANDLER_ERROR', message: 'plain' });
    for (const entry of Object.values(ERROR_CODES)) expect(entry.message.length).toBeGreaterThan(0);
  });
});

describe('counts for people', () => {
  it('puts the noun in the plural except for one', () => {
    expect([0, 1, 2].map((n) => countOf(n, 'run'))).toEqual(['0 runs', '1 run', '2 runs']);
  });
});

describe('storable text', () => {
  it('refuses NUL and unpaired surrogates, accepts paired ones, and names the path', () => {
    expect(isStorableText('plain ✓ 😀')).toBe(true);
    expect(isStorableText('a\u0000b')).toBe(false);
    expect(isStorableText('\ud800')).toBe(false);
    expect(isStorableText('x\udc00')).toBe(false);
    expect(findUnstorableText({ a: [1, { b: 'ok' }, { c: 'x\u0000' }] })).toEqual(['a', 2, 'c']);
    expect(findUnstorableText({ ['k\ud800']: 1 })).toEqual(['k\ud800']);
    expect(findUnstorableText({ a: ['😀', null, 3] })).toBeNull();
    expect(findUnstorableText('\u0000')).toEqual([]);
  });

  it('walks a deeply nested value without exhausting the stack', () => {
    let deep: unknown = 'bad\u0000';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(findUnstorableText(deep)).toHaveLength(200_000);
  });
});

describe('attempt history', () => {
  const t = (s: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, s));
  const failedFirst: RunAttempt = {
    attempt: 1,
    workerId: 'w1',
    startedAt: t(0),
    endedAt: t(1),
    outcome: 'failed',
    error: { code: 'HANDLER_ERROR', message: 'boom' },
  };
  /** A run as stored after its first attempt failed (fields the history reads, the rest inert). */
  const run = (fields: Partial<Run>): Run =>
    ({
      attempt: 1,
      workerId: null,
      startedAt: t(0),
      finishedAt: null,
      status: 'scheduled',
      error: null,
      attempts: [failedFirst],
      ...fields,
    }) as Run;

  it('adds nothing for a run waiting for its next attempt, or stopped while it waited', () => {
    expect(runAttemptHistory(run({}))).toEqual([failedFirst]);
    expect(runAttemptHistory(run({ status: 'cancelled', finishedAt: t(5) }))).toEqual([
      failedFirst,
    ]);
    expect(runAttemptHistory(run({ attempt: 0, startedAt: null, attempts: [] }))).toEqual([]);
  });

  it('adds the latest attempt from the run: running, then stopped by force', () => {
    const running = { attempt: 2, workerId: 'w2', startedAt: t(3) };
    expect(runAttemptHistory(run({ ...running, status: 'cancelling' }))).toEqual([
      failedFirst,
      { ...running, endedAt: null, outcome: null, error: null },
    ]);
    expect(runAttemptHistory(run({ ...running, status: 'cancelled', finishedAt: t(4) }))).toEqual([
      failedFirst,
      { ...running, endedAt: t(4), outcome: 'cancelled', error: null },
    ]);
  });
});

describe('worker and maintenance timings', () => {
  const refusal = (call: () => unknown) => {
    try {
      call();
    } catch (err) {
      return [(err as { code?: string }).code, (err as Error).message];
    }
    return null;
  };

  it('fill in the defaults, and accept each minimum and a heartbeat of half the lease', () => {
    expect(workerTimings({})).toEqual({
      leaseMs: 6000,
      heartbeatMs: 1000,
      pollMs: 250,
      cancelPollMs: 250,
    });
    expect(
      workerTimings({ leaseMs: 1000, heartbeatMs: 500, pollMs: 10, cancelPollMs: 10 }),
    ).toEqual({ leaseMs: 1000, heartbeatMs: 500, pollMs: 10, cancelPollMs: 10 });
  });

  it('refuse a value under its minimum or not whole, naming the setting as the caller spells it', () => {
    expect(refusal(() => workerTimings({ leaseMs: 999 }))).toEqual([
      'INVALID_INPUT',
      'worker.leaseMs must be a whole number of milliseconds of at least 1000, not 999.',
    ]);
    expect(refusal(() => workerTimings({ pollMs: 2.5 }, (key) => `JOBDECK_${key}`))).toEqual([
      'INVALID_INPUT',
      'JOBDECK_pollMs must be a whole number of milliseconds of at least 10, not 2.5.',
    ]);
    expect(refusal(() => workerTimings({ cancelPollMs: 0 }))?.[1]).toMatch(/cancelPollMs/);
  });

  it('refuse a heartbeat over half the lease, saying which value is a default', () => {
    expect(refusal(() => workerTimings({ leaseMs: 1500 }))).toEqual([
      'INVALID_INPUT',
      'worker.heartbeatMs (1000, the default) must be at most half of worker.leaseMs (1500), so that a lease outlives one missed renewal.',
    ]);
    expect(refusal(() => workerTimings({ leaseMs: 2000, heartbeatMs: 1001 }))?.[1]).toMatch(
      /^worker.heartbeatMs \(1001\) must be at most half of worker.leaseMs \(2000\)/,
    );
  });

  it('refuse a maintenance interval under the minimum', () => {
    expect(maintenanceInterval('intervalMs', undefined)).toBe(1000);
    expect(maintenanceInterval('intervalMs', 10)).toBe(10);
    expect(refusal(() => maintenanceInterval('intervalMs', 5))).toEqual([
      'INVALID_INPUT',
      'maintenance.intervalMs must be a whole number of milliseconds of at least 10, not 5.',
    ]);
  });
});
