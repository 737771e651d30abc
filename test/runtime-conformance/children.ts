import { setTimeout as delay } from 'node:timers/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ChildRunError } from '../../src/core/children.js';
import type { Run } from '../../src/core/run.js';
import type { Jobdeck } from '../../src/jobdeck.js';
import { defineJob } from '../../src/jobs/define.js';
import { deferred } from '../helpers/deck.js';
import { EVENT_DEADLINE_MS, pollUntil } from '../helpers/poll.js';
import { operator, useInstances, type RuntimeConformanceContext } from './fixture.js';

/**
 * Child runs through real instances: a parent that waits for its children holds no slot (they run
 * on the same worker of concurrency 1), resumes with their results in a new attempt that skips its
 * completed steps and spawns no child twice; a child that does not complete fails its parent
 * without a retry, unless the handler catches it; cancelling the waiting parent cancels them.
 */
export function describeChildren(ctx: RuntimeConformanceContext): void {
  describe('child runs', () => {
    const instances = useInstances(ctx.makeDatabase);

    /** How often each piece of handler code ran, across attempts. */
    let ledger: Map<string, number>;
    const count = (what: string) => ledger.set(what, (ledger.get(what) ?? 0) + 1);
    /** Opened by a test to let the `double` children finish. */
    let gate: ReturnType<typeof deferred<void>>;
    /** The `hold` children whose signal fired, by run id. */
    let aborted: Set<string>;
    beforeEach(() => {
      ledger = new Map();
      gate = deferred();
      aborted = new Set();
    });

    const double = defineJob({
      name: 'double',
      maxAttempts: 1,
      input: z.object({ n: z.number() }),
      async run(_ctx, input) {
        count('double');
        await gate.promise;
        return input.n * 2;
      },
    });
    /** Waits until stopped, noting that its signal fired. */
    const hold = defineJob({
      name: 'hold',
      maxAttempts: 1,
      async run(ctx) {
        ctx.signal.addEventListener('abort', () => aborted.add(ctx.run.id), { once: true });
        count('hold');
        await delay(EVENT_DEADLINE_MS, undefined, { signal: ctx.signal });
      },
    });
    const fail = defineJob({
      name: 'fail',
      maxAttempts: 1,
      run() {
        throw Object.assign(new Error('smtp refused'), { code: 'SMTP_REFUSED' });
      },
    });

    /** Plans in a step, spawns `input.count` children of `input.job`, waits for all, sums in a step. */
    const parent = defineJob({
      name: 'parent',
      maxAttempts: 3,
      backoff: { base: 10, jitter: 0 },
      input: z.object({ job: z.string(), count: z.number() }),
      async run(ctx, input) {
        count(`parent attempt ${ctx.run.attempt}`);
        const planned = await ctx.step('plan', () => {
          count('plan');
          return input.count;
        });
        const children = [];
        for (let n = 0; n < planned; n++) children.push(await ctx.spawn(input.job, { n }));
        const results = await ctx.waitForAll(children);
        return await ctx.step('sum', () => {
          count('sum');
          return { results };
        });
      },
    });
    /** Waits for a child that fails, and goes on without it. */
    const forgiving = defineJob({
      name: 'forgiving',
      maxAttempts: 3,
      async run(ctx) {
        const child = await ctx.spawn('fail', {}, { key: 'mail' });
        try {
          return await ctx.waitFor(child);
        } catch (err) {
          if (!(err instanceof ChildRunError)) throw err;
          return { child: err.childId, job: err.job, status: err.status, error: err.error };
        }
      },
    });
    /** Checks for a stop until stopped, noting that it started. */
    const patient = defineJob({
      name: 'patient',
      maxAttempts: 1,
      async run(ctx) {
        count('patient');
        for (;;) {
          ctx.checkpoint();
          await delay(20, undefined, { signal: ctx.signal });
        }
      },
    });
    /** Waits for a child that fails and one that would run on: it fails, leaving none running. */
    const mixed = defineJob({
      name: 'mixed',
      maxAttempts: 1,
      async run(ctx) {
        const children = [
          await ctx.spawn('patient', {}, { key: 'patient' }),
          await ctx.spawn('fail', {}, { key: 'fail' }),
        ];
        return await ctx.waitForAll(children);
      },
    });
    /** What spawn and waitFor refuse, as the handler sees it. */
    const refused = defineJob({
      name: 'refused',
      maxAttempts: 1,
      input: z.object({ stranger: z.string() }),
      async run(ctx, input) {
        const codeOf = (promise: Promise<unknown>) =>
          promise.then(
            () => 'resolved',
            (err: unknown) => (err as { code?: string }).code,
          );
        return {
          unknownJob: await codeOf(ctx.spawn('no-such-job')),
          badInput: await codeOf(ctx.spawn('double', { n: 'two' })),
          longKey: await codeOf(ctx.spawn('fail', {}, { key: 'k'.repeat(201) })),
          first: await codeOf(ctx.spawn('fail', {}, { key: 'same' })),
          sameKey: await codeOf(ctx.spawn('fail', {}, { key: 'same' })),
          stranger: await codeOf(ctx.waitFor(input.stranger)),
        };
      },
    });
    const jobs = [double, hold, fail, parent, forgiving, refused, patient, mixed];

    const childrenOf = async (deck: Jobdeck, id: string): Promise<Run[]> =>
      (await deck.runs.list({ parentId: id, limit: 100 })).runs;

    /** The feed's events of these runs, in feed order: `<run>:<event>:<status>`. */
    const feedOf = async (deck: Jobdeck, names: Map<string, string>): Promise<string[]> => {
      const events = [];
      for (let after = 0; ; ) {
        const page = await deck.store.eventList({ afterSeq: after, limit: 500 });
        if (page.events.length === 0) break;
        events.push(...page.events);
        after = page.events.at(-1)!.seq;
      }
      return events.flatMap((e) =>
        e.runId && names.has(e.runId) ? [`${names.get(e.runId)}:${e.name}:${e.status}`] : [],
      );
    };

    /** An instance whose worker has `concurrency` slots and notices changes fast. */
    const openDeck = (concurrency: number) =>
      instances().open(jobs, {
        worker: { pollMs: 20, cancelPollMs: 20, heartbeatMs: 100, leaseMs: 2000, concurrency },
      });

    it('a parent waiting for 10 children holds no slot: they run on its worker of concurrency 1, then it resumes with their results', async () => {
      const deck = await openDeck(1);
      const { run } = await deck.runs.create({
        job: 'parent',
        input: { job: 'double', count: 10 },
        principal: operator,
      });
      // The parent is suspended and a child holds the one slot.
      const waiting = await instances().waitForStatus(deck, run.id, 'waiting');
      expect(waiting).toMatchObject({ attempt: 1, workerId: null, leaseExpiresAt: null });
      expect(waiting.attempts.map((a) => a.outcome)).toEqual(['waiting']);
      await pollUntil(
        async () => (await childrenOf(deck, run.id)).some((c) => c.status === 'running'),
        { what: 'a child to run', timeoutMs: EVENT_DEADLINE_MS },
      );
      const children = await childrenOf(deck, run.id);
      expect(children).toHaveLength(10);
      expect(children.filter((c) => c.status === 'running')).toHaveLength(1);
      for (const child of children)
        expect(child).toMatchObject({ parentId: run.id, trigger: 'parent', createdBy: 'alice' });
      const logs = await deck.runs.logs(run.id);
      const logged = logs.find((l) => l.message === 'waiting for 10 child runs')?.data as
        | { children: string[] }
        | undefined;
      expect(logged?.children.sort()).toEqual(children.map((c) => c.id).sort());

      gate.resolve();
      const done = await instances().waitForStatus(deck, run.id, 'completed', 'failed');
      expect(done).toMatchObject({
        status: 'completed',
        attempt: 2,
        result: { results: [0, 2, 4, 6, 8, 10, 12, 14, 16, 18] },
      });
      // The resumed attempt spawned the same children, skipped the plan, and ran the code outside
      // the steps again.
      expect(await childrenOf(deck, run.id)).toHaveLength(10);
      expect(Object.fromEntries(ledger)).toEqual({
        'parent attempt 1': 1,
        'parent attempt 2': 1,
        plan: 1,
        double: 10,
        sum: 1,
      });
      // In the feed: the parent waited from its suspension until after every child ended.
      const names = new Map([[run.id, 'parent'], ...children.map((c) => [c.id, 'child'] as const)]);
      const feed = await feedOf(deck, names);
      const waitedAt = feed.indexOf('parent:run.waiting:waiting');
      const resumedAt = feed.lastIndexOf('parent:run.started:running');
      expect(waitedAt).toBeGreaterThanOrEqual(0);
      const childEnds = feed.flatMap((e, i) => (e === 'child:run.finished:completed' ? [i] : []));
      expect(childEnds).toHaveLength(10);
      for (const at of childEnds) expect([waitedAt < at, at < resumedAt]).toEqual([true, true]);
    });

    it('a child that fails fails its waiting parent without a retry; a parent that catches it completes', async () => {
      const deck = await openDeck(1);
      const { run } = await deck.runs.create({
        job: 'parent',
        input: { job: 'fail', count: 1 },
        principal: operator,
      });
      const failed = await instances().waitForStatus(deck, run.id, 'failed', 'completed');
      const children = await childrenOf(deck, run.id);
      expect(children).toMatchObject([{ status: 'failed', error: { code: 'SMTP_REFUSED' } }]);
      // Its second attempt found the child failed; a third would find the same.
      expect(failed).toMatchObject({
        status: 'failed',
        attempt: 2,
        error: {
          code: 'CHILD_RUN_FAILED',
          message: `Child run ${children[0]!.id} (fail) ended failed: smtp refused.`,
        },
      });
      expect(failed.attempts.map((a) => a.outcome)).toEqual(['waiting']);
      expect(ledger.get('parent attempt 3')).toBeUndefined();

      const { run: other } = await deck.runs.create({ job: 'forgiving', principal: operator });
      const done = await instances().waitForStatus(deck, other.id, 'completed', 'failed');
      const [child] = await childrenOf(deck, other.id);
      expect(done).toMatchObject({
        status: 'completed',
        result: {
          child: child!.id,
          job: 'fail',
          status: 'failed',
          error: { code: 'SMTP_REFUSED', message: 'smtp refused' },
        },
      });
    });

    it('a parent that fails cancels its unfinished children gracefully, by the system', async () => {
      const deck = await openDeck(3);
      const { run } = await deck.runs.create({ job: 'mixed', principal: operator });
      const failed = await instances().waitForStatus(deck, run.id, 'failed', 'completed');
      expect(failed.error).toMatchObject({ code: 'CHILD_RUN_FAILED' });
      const byJob = async () =>
        new Map((await childrenOf(deck, run.id)).map((child) => [child.job, child]));
      const sibling = await pollUntil(
        async () => {
          const child = (await byJob()).get('patient');
          return child?.status === 'cancelled' ? child : undefined;
        },
        { what: "the failed parent's other child to be cancelled", timeoutMs: EVENT_DEADLINE_MS },
      );
      expect(sibling.cancel).toMatchObject({
        mode: 'graceful',
        requestedBy: 'system',
        reason: `parent run ${run.id} failed`,
      });
      expect((await byJob()).get('fail')?.status).toBe('failed');
    });

    it('force-cancelling a waiting parent cancels its live children, aborting the signals of those running', async () => {
      const deck = await openDeck(3);
      const { run } = await deck.runs.create({
        job: 'parent',
        input: { job: 'hold', count: 4 },
        principal: operator,
      });
      await instances().waitForStatus(deck, run.id, 'waiting');
      // Three children run (all the slots), the fourth waits for one.
      const running = await pollUntil(
        async () => {
          const list = (await childrenOf(deck, run.id)).filter((c) => c.status === 'running');
          return list.length === 3 && ledger.get('hold') === 3 ? list : undefined;
        },
        { what: 'three children to run', timeoutMs: EVENT_DEADLINE_MS },
      );

      const { run: cancelled } = await deck.cancels.cancel(run.id, { mode: 'force' }, operator);
      expect(cancelled.status).toBe('cancelled');
      const children = await pollUntil(
        async () => {
          const list = await childrenOf(deck, run.id);
          return list.every((c) => c.status === 'cancelled') ? list : undefined;
        },
        { what: 'every child to be cancelled', timeoutMs: EVENT_DEADLINE_MS },
      );
      expect(children).toHaveLength(4);
      await pollUntil(() => aborted.size === 3, {
        what: "the running children's signals",
        timeoutMs: EVENT_DEADLINE_MS,
      });
      expect([...aborted].sort()).toEqual(running.map((c) => c.id).sort());
      expect((await deck.runs.get(run.id)).status).toBe('cancelled');
      expect(ledger.get('hold')).toBe(3);
    });

    it('spawn and waitFor refuse what they cannot do, and the handler sees why', async () => {
      const deck = await instances().open(jobs);
      const { run: stranger } = await deck.runs.create({
        job: 'fail',
        runAt: new Date(Date.now() + 3_600_000),
        principal: operator,
      });
      const { run } = await deck.runs.create({
        job: 'refused',
        input: { stranger: stranger.id },
        principal: operator,
      });
      const done = await instances().waitForStatus(deck, run.id, 'completed', 'failed');
      expect(done.result).toEqual({
        unknownJob: 'JOB_NOT_FOUND',
        badInput: 'INVALID_INPUT',
        longKey: 'INVALID_INPUT',
        first: 'resolved',
        sameKey: 'INVALID_INPUT',
        stranger: 'INVALID_INPUT',
      });
      expect(done.error).toBeNull();
    });
  });
}
