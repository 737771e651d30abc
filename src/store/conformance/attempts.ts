import { describe, expect, it } from 'vitest';
import { runAttemptHistory } from '../../core/run.js';
import {
  LEASE_MS,
  MINUTE,
  SECOND,
  at,
  claimParams,
  getRun,
  refOf,
  startRun,
  useStore,
  type ConformanceContext,
} from './fixture.js';

const HANDLER_ERROR = { code: 'HANDLER_ERROR', message: 'try again' };

/** The history of attempts: recorded by the statements that end an attempt without ending the run. */
export function describeAttempts(ctx: ConformanceContext): void {
  describe('attempts history', () => {
    const store = useStore(ctx.makeStore);

    it('a run that completes first time has no recorded attempts', async () => {
      const run = await startRun(store());
      expect(run.attempts).toEqual([]);
      const [done] = await store().runCompleteMany({
        now: at(5 * SECOND),
        runs: [{ ref: refOf(run), result: { ok: true } }],
      });
      expect(done!.attempts).toEqual([]);
      const stored = await getRun(store(), run.id);
      expect(stored.attempts).toEqual([]);
      expect(runAttemptHistory(stored)).toEqual([
        {
          attempt: 1,
          workerId: 'worker-a',
          startedAt: at(0),
          endedAt: at(5 * SECOND),
          outcome: 'completed',
          error: null,
        },
      ]);
    });

    it('a run that fails once, is rescued once and then completes records both earlier attempts', async () => {
      const run = await startRun(store(), { workerId: 'worker-a' });
      await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(2 * SECOND),
        outcome: { status: 'scheduled', runAt: at(MINUTE), error: HANDLER_ERROR },
      });
      const [second] = await store().runClaim(
        claimParams({ workerId: 'worker-b', now: at(MINUTE) }),
      );
      expect(second).toMatchObject({ id: run.id, attempt: 2, workerId: 'worker-b' });
      expect(second!.attempts).toHaveLength(1);

      const rescuedAt = at(MINUTE + LEASE_MS + 1);
      const [rescued] = await store().runRescueExpired({ now: rescuedAt });
      expect(rescued).toMatchObject({ id: run.id, status: 'scheduled', attempt: 2 });
      const [third] = await store().runClaim(claimParams({ workerId: 'worker-c', now: rescuedAt }));
      expect(third).toMatchObject({ id: run.id, attempt: 3, workerId: 'worker-c' });
      const finishedAt = at(2 * MINUTE);
      await store().runFinishIfAttempt({
        ref: refOf(third!),
        now: finishedAt,
        outcome: { status: 'completed', result: 42 },
      });

      const stored = await getRun(store(), run.id);
      expect(stored).toMatchObject({
        status: 'completed',
        attempt: 3,
        workerId: 'worker-c',
        startedAt: rescuedAt,
        finishedAt,
      });
      const earlier = [
        {
          attempt: 1,
          workerId: 'worker-a',
          startedAt: at(0),
          endedAt: at(2 * SECOND),
          outcome: 'failed',
          error: HANDLER_ERROR,
        },
        {
          attempt: 2,
          workerId: 'worker-b',
          startedAt: at(MINUTE),
          endedAt: rescuedAt,
          outcome: 'lost',
          error: { code: 'WORKER_LOST' },
        },
      ];
      // Each entry has exactly these fields; the rescue's error message is the store's own words.
      expect(stored.attempts).toMatchObject(earlier);
      expect(stored.attempts.map((a) => Object.keys(a).sort())).toEqual(
        earlier.map((a) => Object.keys(a).sort()),
      );
      expect(stored.attempts[1]!.error!.message).toContain('worker-b');
      expect(runAttemptHistory(stored)).toMatchObject([
        ...earlier,
        {
          attempt: 3,
          workerId: 'worker-c',
          startedAt: rescuedAt,
          endedAt: finishedAt,
          outcome: 'completed',
          error: null,
        },
      ]);
    });

    it('a release on shutdown records the attempt as released, without an error', async () => {
      const run = await startRun(store());
      const released = await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(3 * SECOND),
        outcome: { status: 'pending' },
      });
      const entry = {
        attempt: 1,
        workerId: 'worker-a',
        startedAt: at(0),
        endedAt: at(3 * SECOND),
        outcome: 'released',
        error: null,
      };
      expect(released.attempts).toEqual([entry]);
      // Waiting for its next attempt: nothing more than the record.
      expect(runAttemptHistory(released)).toEqual([entry]);
      const [again] = await store().runClaim(claimParams({ workerId: 'worker-b', now: at(4000) }));
      expect(runAttemptHistory(again!)).toEqual([
        entry,
        {
          attempt: 2,
          workerId: 'worker-b',
          startedAt: at(4000),
          endedAt: null,
          outcome: null,
          error: null,
        },
      ]);
    });

    it('a rescue that ends the run records the lost attempt, whose worker the run forgets', async () => {
      const lastTry = await startRun(store(), { insert: { maxAttempts: 1 } });
      const stopping = await startRun(store(), { workerId: 'worker-b' });
      await store().runCancel({
        id: stopping.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(1),
      });
      const now = at(LEASE_MS + 1);
      const rescued = await store().runRescueExpired({ now });
      expect(rescued.map((r) => r.status).sort()).toEqual(['cancelled', 'failed']);
      for (const [run, worker] of [
        [lastTry, 'worker-a'],
        [stopping, 'worker-b'],
      ] as const) {
        const stored = await getRun(store(), run.id);
        expect(stored.workerId).toBeNull();
        const lost = {
          attempt: 1,
          workerId: worker,
          startedAt: at(0),
          endedAt: now,
          outcome: 'lost',
          error: { code: 'WORKER_LOST' },
        };
        expect(stored.attempts).toMatchObject([lost]);
        expect(stored.attempts[0]!.error!.message).toContain(worker);
        expect(runAttemptHistory(stored)).toEqual(stored.attempts);
      }
    });

    it('a run failing on its last attempt is described by its own fields', async () => {
      const run = await startRun(store(), { insert: { maxAttempts: 1 } });
      const error = { code: 'HANDLER_ERROR', message: 'no luck' };
      const failed = await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(SECOND),
        outcome: { status: 'failed', error },
      });
      expect(failed.attempts).toEqual([]);
      expect(runAttemptHistory(failed)).toEqual([
        {
          attempt: 1,
          workerId: 'worker-a',
          startedAt: at(0),
          endedAt: at(SECOND),
          outcome: 'failed',
          error,
        },
      ]);
    });
  });
}
