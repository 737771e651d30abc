import { describe, expect, it } from 'vitest';
import { PAUSE_TABLE, type PauseAction } from '../../core/pause.js';
import type { Run } from '../../core/run.js';
import { RUN_STATUSES, type RunStatus } from '../../core/status.js';
import type { Store, StoredEvent } from '../store.js';
import {
  LEASE_MS,
  MINUTE,
  at,
  claimParams,
  expectErrorCode,
  getRun,
  insertParams,
  insertRun,
  refOf,
  startRun,
  useStore,
  waitingRun,
  type ConformanceContext,
} from './fixture.js';

/** The pause table written out: status when asked → action and status after. */
const EXPECTED: Record<RunStatus, { action: PauseAction; status: RunStatus }> = {
  scheduled: { action: 'hold-now', status: 'paused' },
  pending: { action: 'hold-now', status: 'paused' },
  running: { action: 'request', status: 'running' },
  cancelling: { action: 'refused', status: 'cancelling' },
  paused: { action: 'unchanged', status: 'paused' },
  waiting: { action: 'hold-now', status: 'paused' },
  completed: { action: 'finished', status: 'completed' },
  partial: { action: 'finished', status: 'partial' },
  failed: { action: 'finished', status: 'failed' },
  cancelled: { action: 'finished', status: 'cancelled' },
};

const pauseBy = (store: Store, id: string, ms: number, requestedBy = 'dave') =>
  store.runPause({ id, requestedBy, now: at(ms) });

/** Bring a fresh run of job `email` into `status`. */
async function runIn(store: Store, status: RunStatus): Promise<Run> {
  switch (status) {
    case 'scheduled':
      return insertRun(store, { runAt: at(MINUTE) });
    case 'pending':
      return insertRun(store);
    case 'running':
      return startRun(store);
    case 'paused':
      return (await pauseBy(store, (await insertRun(store)).id, 2)).run;
    case 'waiting':
      return (await waitingRun(store)).parent;
    case 'cancelling':
    case 'cancelled': {
      const run = status === 'cancelling' ? await startRun(store) : await insertRun(store);
      const cancel = { mode: 'graceful' as const, reason: null, requestedBy: 'bob', now: at(2) };
      return (await store.runCancel({ id: run.id, ...cancel })).run;
    }
    case 'completed':
    case 'partial':
    case 'failed': {
      const run = await startRun(store);
      const outcome =
        status === 'failed'
          ? { status, error: { code: 'HANDLER_ERROR', message: 'boom' } }
          : { status, result: { done: true } };
      return store.runFinishIfAttempt({ ref: refOf(run), now: at(2), outcome });
    }
  }
}

/** A running run whose pause request its worker has learnt; the run as the request left it. */
async function pauseRequested(store: Store): Promise<Run> {
  const run = await startRun(store);
  return (await pauseBy(store, run.id, 5)).run;
}

const feed = async (store: Store, runId: string): Promise<string[]> =>
  (await store.eventList({ afterSeq: 0, limit: 100 })).events
    .filter((e: StoredEvent) => e.runId === runId)
    .map((e) => `${e.name}:${e.status ?? '-'}`);

/** runPause and runResume apply the pause table atomically; a paused run holds nothing. */
export function describePause(ctx: ConformanceContext): void {
  describe('pause and resume', () => {
    const store = useStore(ctx.makeStore);

    it('the expectations of this suite are the PAUSE_TABLE of core', () => {
      for (const status of RUN_STATUSES) expect(PAUSE_TABLE[status]).toBe(EXPECTED[status].action);
    });

    for (const status of RUN_STATUSES) {
      const { action, status: after } = EXPECTED[status];
      it(`pause of a ${status} run → ${action}, ${after}`, async () => {
        const before = await runIn(store(), status);
        expect(before.status).toBe(status);
        const result = await pauseBy(store(), before.id, 10, 'erin');
        expect(result.action).toBe(action);
        expect(result.run.status).toBe(after);
        const stored = await getRun(store(), before.id);
        expect(stored).toEqual(result.run);
        if (action === 'hold-now' || action === 'request') {
          expect(stored.pause).toEqual({ requestedBy: 'erin', requestedAt: at(10) });
          expect({ ...stored, pause: null }).toEqual(
            action === 'hold-now' ? { ...before, status: 'paused' } : before,
          );
        } else {
          expect(stored).toEqual(before);
        }
      });
    }

    it('a pause of an unknown run is RUN_NOT_FOUND; so is a resume', async () => {
      await expectErrorCode(pauseBy(store(), 'run_missing', 1), 'RUN_NOT_FOUND');
      await expectErrorCode(store().runResume({ id: 'run_missing', now: at(1) }), 'RUN_NOT_FOUND');
    });

    it('a paused run is never claimed, and holds no worker or lease', async () => {
      const pending = await insertRun(store());
      const scheduled = await insertRun(store(), { runAt: at(1) });
      await pauseBy(store(), pending.id, 0);
      await pauseBy(store(), scheduled.id, 0);
      expect(await store().runClaim(claimParams({ now: at(MINUTE) }))).toEqual([]);
      expect(await store().runPromoteDue({ now: at(MINUTE) })).toBe(0);
      const paused = await getRun(store(), scheduled.id);
      expect(paused).toMatchObject({ status: 'paused', workerId: null, leaseExpiresAt: null });
      expect(await store().runCountUnfinished()).toEqual({ paused: 2 });
    });

    it('a pause asked twice of a running run keeps the first request', async () => {
      const run = await pauseRequested(store());
      const again = await pauseBy(store(), run.id, 9, 'erin');
      expect(again.action).toBe('request');
      expect(again.run.pause).toEqual({ requestedBy: 'dave', requestedAt: at(5) });
    });

    it('the worker learns a pause request from leaseRenew; a cancel overrides it', async () => {
      const run = await pauseRequested(store());
      const renew = () =>
        store().leaseRenew({
          workerId: 'worker-a',
          now: at(10),
          leaseMs: LEASE_MS,
          runs: [{ id: run.id, attempt: 1 }],
        });
      expect(await renew()).toEqual([
        {
          id: run.id,
          attempt: 1,
          held: true,
          cancel: null,
          pause: { requestedBy: 'dave', requestedAt: at(5) },
        },
      ]);
      await store().runCancel({
        id: run.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'bob',
        now: at(11),
      });
      const [renewal] = await renew();
      expect(renewal).toMatchObject({ held: true, pause: null });
      expect(renewal!.cancel).not.toBeNull();
    });

    it('the attempt that stopped for a pause ends it paused (fenced): no worker, no lease, no try used', async () => {
      const run = await pauseRequested(store());
      await expectErrorCode(
        store().runFinishIfAttempt({
          ref: { ...refOf(run), workerId: 'worker-b' },
          now: at(20),
          outcome: { status: 'paused' },
        }),
        'LEASE_LOST',
      );
      const paused = await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(20),
        outcome: { status: 'paused' },
      });
      expect(paused).toMatchObject({
        status: 'paused',
        workerId: null,
        leaseExpiresAt: null,
        finishedAt: null,
        attempt: 1,
        maxAttempts: run.maxAttempts + 1,
        pause: { requestedBy: 'dave', requestedAt: at(5) },
      });
      expect(paused.attempts).toEqual([
        {
          attempt: 1,
          workerId: 'worker-a',
          startedAt: run.startedAt,
          endedAt: at(20),
          outcome: 'paused',
          error: null,
        },
      ]);
      expect(await getRun(store(), run.id)).toEqual(paused);
      // The old attempt's writes are refused from now on.
      await expectErrorCode(
        store().runProgressSet({
          ref: refOf(run),
          progress: { percent: 1, processed: null, total: null, message: null },
          now: at(21),
        }),
        'LEASE_LOST',
      );
    });

    it('resume makes a paused run pending and claimable, its pause record cleared', async () => {
      const run = await pauseRequested(store());
      await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(20),
        outcome: { status: 'paused' },
      });
      const resumed = await store().runResume({ id: run.id, now: at(30) });
      expect(resumed).toMatchObject({ status: 'pending', pause: null, runAt: at(30) });
      const [claimed] = await store().runClaim(claimParams({ now: at(31) }));
      expect(claimed).toMatchObject({ id: run.id, attempt: 2, status: 'running' });
      expect(await feed(store(), run.id)).toEqual([
        'run.created:pending',
        'run.started:running',
        'run.paused:paused',
        'run.resumed:pending',
        'run.started:running',
      ]);
    });

    it('a run held before it started is resumed into pending', async () => {
      const run = await insertRun(store(), { runAt: at(MINUTE) });
      await pauseBy(store(), run.id, 1);
      const resumed = await store().runResume({ id: run.id, now: at(2) });
      expect(resumed).toMatchObject({ status: 'pending', attempt: 0, pause: null });
      expect(await feed(store(), run.id)).toEqual([
        'run.created:scheduled',
        'run.paused:paused',
        'run.resumed:pending',
      ]);
    });

    it('resume of a run that is not paused is refused: RUN_NOT_PAUSED, or RUN_FINISHED once finished', async () => {
      // Runs that need a claim first, so that no waiting run of the test is claimed instead.
      const requested = await pauseRequested(store());
      await expectErrorCode(store().runResume({ id: requested.id, now: at(9) }), 'RUN_NOT_PAUSED');
      for (const status of ['completed', 'cancelled'] as const) {
        const run = await runIn(store(), status);
        await expectErrorCode(store().runResume({ id: run.id, now: at(9) }), 'RUN_FINISHED');
      }
      for (const status of ['running', 'cancelling', 'scheduled', 'pending'] as const) {
        const run = await runIn(store(), status);
        await expectErrorCode(store().runResume({ id: run.id, now: at(9) }), 'RUN_NOT_PAUSED');
        expect(await getRun(store(), run.id)).toEqual(run);
      }
    });

    it('a cancel of a paused run ends it cancelled at once', async () => {
      const run = await pauseRequested(store());
      await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(20),
        outcome: { status: 'paused' },
      });
      const { action, run: cancelled } = await store().runCancel({
        id: run.id,
        mode: 'graceful',
        reason: 'no longer needed',
        requestedBy: 'bob',
        now: at(30),
      });
      expect(action).toBe('cancel-now');
      expect(cancelled).toMatchObject({ status: 'cancelled', finishedAt: at(30) });
      expect((await feed(store(), run.id)).at(-1)).toBe('run.finished:cancelled');
    });

    it('a run asked to pause that fails is paused instead of backing off (the failure uses its try)', async () => {
      const run = await pauseRequested(store());
      const paused = await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(20),
        outcome: {
          status: 'scheduled',
          runAt: at(MINUTE),
          error: { code: 'HANDLER_ERROR', message: 'boom' },
        },
      });
      expect(paused).toMatchObject({ status: 'paused', maxAttempts: run.maxAttempts });
      expect(paused.attempts.map((a) => a.outcome)).toEqual(['failed']);
    });

    it('a run asked to pause that its worker releases on shutdown is paused', async () => {
      const run = await pauseRequested(store());
      const paused = await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(20),
        outcome: { status: 'pending' },
      });
      expect(paused).toMatchObject({ status: 'paused', workerId: null });
    });

    it('a rescued run (lease expired) with a pause request is paused, not retried, and uses no try', async () => {
      const run = await pauseRequested(store());
      const [rescued] = await store().runRescueExpired({ now: at(LEASE_MS + 1) });
      expect(rescued).toMatchObject({
        id: run.id,
        status: 'paused',
        workerId: null,
        leaseExpiresAt: null,
        maxAttempts: run.maxAttempts + 1,
      });
      expect(rescued!.attempts.map((a) => a.outcome)).toEqual(['lost']);
      expect(await store().runClaim(claimParams({ now: at(LEASE_MS + 2) }))).toEqual([]);
    });

    it('a paused run blocks an exclusive job as a running one does', async () => {
      const run = await insertRun(store());
      await pauseBy(store(), run.id, 1);
      await expectErrorCode(
        store().runInsert(insertParams({ exclusive: true })),
        'ALREADY_RUNNING',
      );
    });
  });
}
