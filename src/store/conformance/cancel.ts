import { describe, expect, it } from 'vitest';
import { CANCEL_TABLE, type CancelMode } from '../../core/cancellation.js';
import type { Run } from '../../core/run.js';
import { RUN_STATUSES, type RunStatus } from '../../core/status.js';
import type { RunCancelResult, Store } from '../store.js';
import {
  MINUTE,
  at,
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

type Expectation = { action: RunCancelResult['action']; status: RunStatus };

/** SPEC.md's cancellation table, written out: status when asked × mode → action and status after. */
const EXPECTED: Record<RunStatus, Record<CancelMode, Expectation>> = {
  scheduled: {
    graceful: { action: 'cancel-now', status: 'cancelled' },
    force: { action: 'cancel-now', status: 'cancelled' },
  },
  pending: {
    graceful: { action: 'cancel-now', status: 'cancelled' },
    force: { action: 'cancel-now', status: 'cancelled' },
  },
  running: {
    graceful: { action: 'request', status: 'cancelling' },
    force: { action: 'force', status: 'cancelled' },
  },
  cancelling: {
    graceful: { action: 'unchanged', status: 'cancelling' },
    force: { action: 'force', status: 'cancelled' },
  },
  paused: {
    graceful: { action: 'cancel-now', status: 'cancelled' },
    force: { action: 'cancel-now', status: 'cancelled' },
  },
  waiting: {
    graceful: { action: 'cancel-now', status: 'cancelled' },
    force: { action: 'cancel-now', status: 'cancelled' },
  },
  cancelled: {
    graceful: { action: 'unchanged', status: 'cancelled' },
    force: { action: 'unchanged', status: 'cancelled' },
  },
  completed: {
    graceful: { action: 'finished', status: 'completed' },
    force: { action: 'finished', status: 'completed' },
  },
  partial: {
    graceful: { action: 'finished', status: 'partial' },
    force: { action: 'finished', status: 'partial' },
  },
  failed: {
    graceful: { action: 'finished', status: 'failed' },
    force: { action: 'finished', status: 'failed' },
  },
};

/** The cancel that put a run in `cancelling` or `cancelled` before the one under test. */
const FIRST_CANCEL = { reason: 'first', requestedBy: 'dave', requestedAt: at(2) };

/** Bring a fresh run of job `email` into `status` (with no items). */
async function runIn(store: Store, status: RunStatus): Promise<Run> {
  switch (status) {
    case 'scheduled':
      return insertRun(store, { runAt: at(MINUTE) });
    case 'pending':
      return insertRun(store);
    case 'running':
      return startRun(store);
    case 'cancelling': {
      const run = await startRun(store);
      return (await store.runCancel({ id: run.id, mode: 'graceful', now: at(2), ...cancelBy() }))
        .run;
    }
    case 'paused': {
      const run = await insertRun(store);
      return (await store.runPause({ id: run.id, requestedBy: 'dave', now: at(2) })).run;
    }
    case 'waiting':
      return (await waitingRun(store)).parent;
    case 'cancelled': {
      const run = await insertRun(store);
      return (await store.runCancel({ id: run.id, mode: 'graceful', now: at(2), ...cancelBy() }))
        .run;
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

function cancelBy(): { reason: string; requestedBy: string } {
  return { reason: FIRST_CANCEL.reason, requestedBy: FIRST_CANCEL.requestedBy };
}

/** runCancel applies the cancellation table atomically and records who, why, when and how. */
export function describeCancel(ctx: ConformanceContext): void {
  describe('cancellation table', () => {
    const store = useStore(ctx.makeStore);

    it('the expectations of this suite are the CANCEL_TABLE of core', () => {
      for (const status of RUN_STATUSES) {
        expect(CANCEL_TABLE[status]).toEqual({
          graceful: EXPECTED[status].graceful.action,
          force: EXPECTED[status].force.action,
        });
      }
    });

    for (const status of RUN_STATUSES) {
      for (const mode of ['graceful', 'force'] as const) {
        const { action, status: after } = EXPECTED[status][mode];
        it(`${status} + ${mode} → ${action}, ${after}`, async () => {
          const before = await runIn(store(), status);
          expect(before.status).toBe(status);
          const now = at(10);
          const result = await store().runCancel({
            id: before.id,
            mode,
            reason: 'asked',
            requestedBy: 'erin',
            now,
          });
          expect(result.action).toBe(action);
          expect(result.run.status).toBe(after);
          const stored = await getRun(store(), before.id);
          expect(stored).toEqual(result.run);

          if (action === 'unchanged' || action === 'finished') {
            expect(stored).toEqual(before);
            return;
          }
          expect(stored.cancel).toEqual({
            mode,
            reason: 'asked',
            requestedBy: 'erin',
            requestedAt: now,
          });
          if (action === 'request') {
            expect(stored).toMatchObject({ finishedAt: null, workerId: 'worker-a', attempt: 1 });
          } else {
            expect(stored.finishedAt).toEqual(now);
          }
        });
      }
    }

    it('a cancel records mode, reason, requestedBy and requestedAt', async () => {
      const run = await insertRun(store());
      await store().runCancel({
        id: run.id,
        mode: 'force',
        reason: 'customer asked',
        requestedBy: 'frank',
        now: at(42),
      });
      expect((await getRun(store(), run.id)).cancel).toEqual({
        mode: 'force',
        reason: 'customer asked',
        requestedBy: 'frank',
        requestedAt: at(42),
      });
      const other = await insertRun(store());
      await store().runCancel({
        id: other.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'gina',
        now: at(43),
      });
      expect((await getRun(store(), other.id)).cancel).toEqual({
        mode: 'graceful',
        reason: null,
        requestedBy: 'gina',
        requestedAt: at(43),
      });
    });

    it('a cancelled waiting run is never claimed', async () => {
      const run = await insertRun(store());
      await store().runCancel({
        id: run.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(1),
      });
      const claimed = await store().runClaim({
        workerId: 'worker-a',
        now: at(2),
        leaseMs: MINUTE,
        limit: 10,
        jobs: [{ name: 'email', concurrency: null }],
      });
      expect(claimed).toEqual([]);
      expect((await getRun(store(), run.id)).attempt).toBe(0);
    });

    it('force on a running run with some succeeded items ends partial; unfinished items become cancelled', async () => {
      const run = await startRun(store());
      await store().itemsUpsert({
        ref: refOf(run),
        items: [
          { key: 'a', status: 'succeeded' },
          { key: 'b', status: 'running' },
          { key: 'c', status: 'pending' },
          { key: 'd', status: 'failed', error: { code: 'HANDLER_ERROR', message: 'd broke' } },
        ],
      });
      const { run: after, action } = await store().runCancel({
        id: run.id,
        mode: 'force',
        reason: 'stop now',
        requestedBy: 'alice',
        now: at(10),
      });
      expect(action).toBe('force');
      expect(after.status).toBe('partial');
      expect(after.finishedAt).toEqual(at(10));
      expect(after.cancel).toEqual({
        mode: 'force',
        reason: 'stop now',
        requestedBy: 'alice',
        requestedAt: at(10),
      });
      const stored = await getRun(store(), run.id);
      expect(stored.items).toEqual([
        { key: 'a', status: 'succeeded' },
        { key: 'b', status: 'cancelled' },
        { key: 'c', status: 'cancelled' },
        { key: 'd', status: 'failed', error: { code: 'HANDLER_ERROR', message: 'd broke' } },
      ]);
      expect(stored.status).toBe('partial');
    });

    it('force on a running run whose items did not succeed ends cancelled', async () => {
      const run = await startRun(store());
      await store().itemsUpsert({
        ref: refOf(run),
        items: [
          { key: 'a', status: 'failed', error: { code: 'HANDLER_ERROR', message: 'no' } },
          { key: 'b', status: 'running' },
        ],
      });
      const { run: after } = await store().runCancel({
        id: run.id,
        mode: 'force',
        reason: null,
        requestedBy: 'alice',
        now: at(10),
      });
      expect(after.status).toBe('cancelled');
      expect(after.items.map((i) => i.status)).toEqual(['failed', 'cancelled']);
    });

    it('graceful on a cancelling run changes nothing and keeps the first cancel record', async () => {
      const run = await startRun(store());
      await store().runCancel({
        id: run.id,
        mode: 'graceful',
        reason: 'first',
        requestedBy: 'dave',
        now: at(2),
      });
      const again = await store().runCancel({
        id: run.id,
        mode: 'graceful',
        reason: 'second',
        requestedBy: 'erin',
        now: at(20),
      });
      expect(again.action).toBe('unchanged');
      expect(again.run.status).toBe('cancelling');
      expect((await getRun(store(), run.id)).cancel).toEqual({ mode: 'graceful', ...FIRST_CANCEL });
    });

    it('force on a cancelling run escalates: the run ends at once with a force record', async () => {
      const run = await startRun(store());
      await store().itemsUpsert({
        ref: refOf(run),
        items: [
          { key: 'a', status: 'succeeded' },
          { key: 'b', status: 'running' },
        ],
      });
      await store().runCancel({
        id: run.id,
        mode: 'graceful',
        reason: 'first',
        requestedBy: 'dave',
        now: at(2),
      });
      const forced = await store().runCancel({
        id: run.id,
        mode: 'force',
        reason: 'taking too long',
        requestedBy: 'erin',
        now: at(20),
      });
      expect(forced.action).toBe('force');
      expect(forced.run).toMatchObject({
        status: 'partial',
        finishedAt: at(20),
        cancel: {
          mode: 'force',
          reason: 'taking too long',
          requestedBy: 'erin',
          requestedAt: at(20),
        },
      });
      expect((await getRun(store(), run.id)).items).toEqual([
        { key: 'a', status: 'succeeded' },
        { key: 'b', status: 'cancelled' },
      ]);
    });

    it('a finished run is refused with action finished and stays as it was', async () => {
      const run = await startRun(store());
      const done = await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(5),
        outcome: { status: 'completed', result: 'ok' },
      });
      const result = await store().runCancel({
        id: run.id,
        mode: 'force',
        reason: null,
        requestedBy: 'alice',
        now: at(6),
      });
      expect(result).toEqual({ action: 'finished', run: done });
      expect((await getRun(store(), run.id)).cancel).toBeNull();
    });

    it('a cancel of an unknown run is RUN_NOT_FOUND', async () => {
      await insertRun(store());
      await expectErrorCode(
        store().runCancel({
          id: insertParams().id,
          mode: 'graceful',
          reason: null,
          requestedBy: 'alice',
          now: at(1),
        }),
        'RUN_NOT_FOUND',
      );
    });

    it('a handler stopped by a graceful cancel ends partial with items succeeded, else cancelled', async () => {
      const withItems = await startRun(store());
      await store().itemsUpsert({
        ref: refOf(withItems),
        items: [
          { key: 'a', status: 'succeeded' },
          { key: 'b', status: 'pending' },
        ],
      });
      const bare = await startRun(store());
      for (const run of [withItems, bare]) {
        await store().runCancel({
          id: run.id,
          mode: 'graceful',
          reason: null,
          requestedBy: 'alice',
          now: at(3),
        });
      }
      const partial = await store().runFinishIfAttempt({
        ref: refOf(withItems),
        now: at(4),
        outcome: { status: 'cancelled' },
      });
      expect(partial.status).toBe('partial');
      expect(partial.cancel?.mode).toBe('graceful');
      expect(partial.items).toEqual([
        { key: 'a', status: 'succeeded' },
        { key: 'b', status: 'cancelled' },
      ]);
      const cancelled = await store().runFinishIfAttempt({
        ref: refOf(bare),
        now: at(4),
        outcome: { status: 'cancelled' },
      });
      expect(cancelled).toMatchObject({ status: 'cancelled', finishedAt: at(4) });
    });
  });
}
