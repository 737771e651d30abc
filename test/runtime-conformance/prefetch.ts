import { describe, expect, it } from 'vitest';
import { defineJob } from '../../src/jobs/define.js';
import type { Jobdeck } from '../../src/jobdeck.js';
import { deferred } from '../helpers/deck.js';
import { pollUntil } from '../helpers/poll.js';
import {
  FAST_WORKER,
  admin,
  useInstances,
  untilStoppedJob,
  type RuntimeConformanceContext,
} from './fixture.js';

/**
 * Runs claimed ahead of a free slot (`prefetch`): they wait held by the worker and start as slots
 * free, and every guarantee of a claimed run still holds while they wait — a cancel ends one at
 * once, its lease is not renewed (it goes back before the lease would run out), and a shutdown
 * hands it back without using a try.
 */
export function describePrefetch(ctx: RuntimeConformanceContext): void {
  describe('prefetch: runs that wait for a slot', () => {
    const instances = useInstances(ctx.makeDatabase);

    /**
     * A worker of one slot that may claim four runs ahead, busy with a run that holds its slot until
     * stopped; `waiting` runs of the job `later` then claimed ahead, before any handler of them ran.
     */
    async function busyWorkerWith(waiting: number, worker: Partial<typeof FAST_WORKER> = {}) {
      const calls: string[] = [];
      let running = 0;
      let mostAtOnce = 0;
      const quick = defineJob({ name: 'quick', run: () => 'ok' });
      const later = defineJob({
        name: 'later',
        maxAttempts: 1,
        async run(ctx) {
          calls.push(ctx.run.id);
          mostAtOnce = Math.max(mostAtOnce, ++running);
          await new Promise((resolve) => setImmediate(resolve));
          running--;
          return 'done';
        },
      });
      const blockerStarted = deferred<AbortSignal>();
      const deck = await instances().open(
        [quick, later, untilStoppedJob('blocker', blockerStarted)],
        { worker: { ...FAST_WORKER, ...worker, concurrency: 1, prefetch: 4 } },
      );
      // The worker prefetches only once it has seen how long its runs take.
      const { run: warmUp } = await deck.runs.create({ job: 'quick', principal: admin });
      await instances().waitForStatus(deck, warmUp.id, 'completed');
      const { run: blocker } = await deck.runs.create({ job: 'blocker', principal: admin });
      const blockerSignal = await blockerStarted.promise;
      const ids: string[] = [];
      for (let i = 0; i < waiting; i++) {
        ids.push((await deck.runs.create({ job: 'later', principal: admin })).run.id);
      }
      const claimed = await waitUntilHeld(deck, ids, deck.worker!.id);
      expect(calls).toEqual([]);
      return {
        deck,
        blocker,
        blockerSignal,
        ids,
        claimed,
        calls,
        mostAtOnce: () => mostAtOnce,
      };
    }

    /** Wait until every run is running and held by the worker (claimed), and return them. */
    function waitUntilHeld(deck: Jobdeck, ids: string[], workerId: string) {
      return pollUntil(
        async () => {
          const runs = await Promise.all(ids.map((id) => deck.runs.get(id)));
          return runs.every((r) => r.status === 'running' && r.workerId === workerId)
            ? runs
            : undefined;
        },
        { what: `runs ${ids.join(', ')} to be claimed ahead` },
      );
    }

    it('a run claimed ahead starts when a slot frees, never beyond the concurrency', async () => {
      const { deck, blocker, ids, calls, mostAtOnce } = await busyWorkerWith(3);
      expect(deck.worker!.activeCount).toBe(1);
      await deck.cancels.cancel(blocker.id, { mode: 'force' }, admin);
      for (const id of ids) {
        expect(await instances().waitForStatus(deck, id, 'completed', 'failed')).toMatchObject({
          status: 'completed',
          attempt: 1,
          result: 'done',
        });
      }
      expect([...calls].sort()).toEqual([...ids].sort());
      expect(mostAtOnce()).toBe(1);
    });

    for (const mode of ['graceful', 'force'] as const) {
      it(`a ${mode} cancel from another instance ends a waiting run at once, its handler never called`, async () => {
        const { deck, blockerSignal, ids, calls } = await busyWorkerWith(2);
        const api = await instances().open([], { worker: false });
        const [target, other] = ids as [string, string];
        await api.cancels.cancel(target, { mode, reason: 'not needed' }, admin);
        const ended = await instances().waitForStatus(deck, target, 'cancelled');
        expect(ended).toMatchObject({ status: 'cancelled', attempt: 1, cancel: { mode } });
        // The slot is still taken: the cancel did not wait for it.
        expect(blockerSignal.aborted).toBe(false);
        // Its lease (and with it any concurrency cap's slot) is given back too.
        await pollUntil(
          async () => (await deck.runs.get(target)).leaseExpiresAt === null || undefined,
          {
            what: 'the cancelled run to give back its lease',
          },
        );
        expect(calls).toEqual([]);
        expect((await deck.runs.get(other)).status).toBe('running');
      });
    }

    it('a shutdown hands waiting runs back without using a try; another worker runs them', async () => {
      const { deck, ids, calls } = await busyWorkerWith(2);
      await deck.stop({ graceMs: 50 });
      for (const id of ids) {
        const run = await deck.runs.get(id);
        expect(run).toMatchObject({
          status: 'pending',
          workerId: null,
          attempt: 1,
          maxAttempts: 2,
        });
        expect(run.attempts.map((a) => a.outcome)).toEqual(['released']);
      }
      expect(calls).toEqual([]);
      const { later } = { later: defineJob({ name: 'later', maxAttempts: 1, run: () => 'again' }) };
      const next = await instances().open([later]);
      for (const id of ids) {
        expect(await instances().waitForStatus(next, id, 'completed', 'failed')).toMatchObject({
          status: 'completed',
          attempt: 2,
          result: 'again',
        });
      }
    });

    it('a waiting run is not renewed: it goes back before its lease runs out, without using a try', async () => {
      const leaseMs = 1000;
      const { deck, ids, claimed, calls } = await busyWorkerWith(1, {
        leaseMs,
        heartbeatMs: 100,
      });
      const [id] = ids as [string];
      const firstLeaseEnd = claimed[0]!.leaseExpiresAt!.getTime();
      const released = await pollUntil(
        async () => (await deck.runs.get(id)).attempts.find((a) => a.outcome === 'released'),
        { what: 'the waiting run to be handed back' },
      );
      expect(released.attempt).toBe(1);
      expect(released.endedAt.getTime()).toBeLessThan(firstLeaseEnd);
      const run = await deck.runs.get(id);
      // Handed back (and maybe claimed ahead again): never rescued as a failed try.
      expect(run.attempts.every((a) => a.outcome === 'released')).toBe(true);
      expect(run.maxAttempts - run.attempts.length).toBe(1);
      expect(calls).toEqual([]);
    });
  });
}
