import { describe, expect, it } from 'vitest';
import type { StoredLogEntry } from '../../src/core/run.js';
import type { Jobdeck } from '../../src/jobdeck.js';
import { leakyThreadJob, threadIdJob } from '../fixtures/isolated-jobs.js';
import { EVENT_DEADLINE_MS, pollUntil } from '../helpers/poll.js';
import { operator, useInstances, type RuntimeConformanceContext } from './fixture.js';

/** Warm threads are reused for the next run, unless the run before was stopped or wrote late. */
export function describeThreads(ctx: RuntimeConformanceContext): void {
  // Threads start slowly on a loaded machine: a test may wait long, it never fails for being slow.
  describe('thread reuse', { timeout: 4 * EVENT_DEADLINE_MS }, () => {
    const instances = useInstances(ctx.makeDatabase);
    const open = () => instances().open([threadIdJob, leakyThreadJob]);

    /** Wait for a log line of the run and return it. */
    const waitForLog = (deck: Jobdeck, id: string, message: string): Promise<StoredLogEntry> =>
      pollUntil(async () => (await deck.runs.logs(id)).find((l) => l.message === message), {
        what: `log ${JSON.stringify(message)} of run ${id}`,
        timeoutMs: EVENT_DEADLINE_MS,
      });

    it('reuses a warm thread, but never one that was force-terminated', async () => {
      const deck = await open();
      const runWhere = async (spinMs = 0) =>
        (await deck.runs.create({ job: 'where.thread', input: { spinMs }, principal: operator }))
          .run.id;
      const threadOf = async (id: string) =>
        ((await instances().waitForStatus(deck, id, 'completed')).result as { threadId: number })
          .threadId;

      const first = await threadOf(await runWhere());
      expect(first).not.toBe(0); // not the test's own thread
      expect(await threadOf(await runWhere())).toBe(first);

      // A run that ignores its stop, in that same warm thread, is terminated with its thread.
      const stuck = await runWhere(60_000);
      expect((await waitForLog(deck, stuck, 'where')).data).toMatchObject({ threadId: first });
      await deck.cancels.cancel(stuck, { mode: 'force' }, operator);
      await pollUntil(() => deck.worker!.activeCount === 0, {
        what: 'the worker slot to be free',
        timeoutMs: EVENT_DEADLINE_MS,
      });
      await waitForLog(
        deck,
        stuck,
        'handler did not settle after the stop; its thread was terminated',
      );

      const fresh = await threadOf(await runWhere());
      expect(fresh).not.toBe(first);
      expect(fresh).not.toBe(0);
      expect(await threadOf(await runWhere())).toBe(fresh);
    });

    /** What a run of `leaky.thread` (or any run) shows of another run's writes. */
    async function staleWritesIn(deck: Jobdeck, id: string) {
      const run = await deck.runs.get(id);
      return {
        logs: (await deck.runs.logs(id)).map((l) => l.message).filter((m) => m === 'stale write'),
        progress: run.progress?.message === 'stale progress' ? run.progress : null,
        items: run.items.filter((i) => i.key === 'stale item'),
        steps: (await deck.runs.steps(id)).map((step) => step.name),
      };
    }
    const none = { logs: [], progress: null, items: [], steps: [] };

    it("drops a finished run's late writes in the next run of its warm thread, then retires the thread", async () => {
      const deck = await open();
      const runLeaky = async (mode: 'leave' | 'trigger') => {
        const { run } = await deck.runs.create({
          job: 'leaky.thread',
          input: { mode },
          principal: operator,
        });
        const done = await instances().waitForStatus(
          deck,
          run.id,
          'completed',
          'failed',
          'cancelled',
        );
        expect(done.status).toBe('completed');
        return { id: run.id, ...(done.result as { threadId: number; triggered?: boolean }) };
      };
      const first = await runLeaky('leave');
      // The next run lands in the same warm thread and makes the first run's ctx write during it.
      const second = await runLeaky('trigger');
      expect([second.threadId, second.triggered]).toEqual([first.threadId, true]);
      expect(await staleWritesIn(deck, second.id)).toEqual(none);
      expect(await staleWritesIn(deck, first.id)).toEqual(none); // its attempt was over
      // Nor did its spawn start a child.
      expect((await deck.runs.list({ parentId: first.id })).runs).toEqual([]);
      // A thread that wrote for a run it no longer serves is not trusted with a third.
      const third = await runLeaky('trigger');
      expect(third.threadId).not.toBe(first.threadId);
      expect(third.triggered).toBe(false);
    });

    it('never reuses the thread of a run stopped by a graceful cancel', async () => {
      const deck = await open();
      const { run: stopped } = await deck.runs.create({
        job: 'leaky.thread',
        input: { mode: 'linger' },
        principal: operator,
      });
      const lingering = await waitForLog(deck, stopped.id, 'lingering');
      await deck.cancels.cancel(stopped.id, { mode: 'graceful' }, operator);
      const ended = await instances().waitForStatus(
        deck,
        stopped.id,
        'completed',
        'partial',
        'failed',
        'cancelled',
      );
      expect(ended.status).toBe('cancelled');
      const { run: next } = await deck.runs.create({
        job: 'leaky.thread',
        input: { mode: 'trigger' },
        principal: operator,
      });
      const done = await instances().waitForStatus(deck, next.id, 'completed', 'failed');
      expect(done).toMatchObject({ status: 'completed', result: { triggered: false } });
      expect((done.result as { threadId: number }).threadId).not.toBe(
        (lingering.data as { threadId: number }).threadId,
      );
      expect(await staleWritesIn(deck, next.id)).toEqual(none);
    });
  });
}
