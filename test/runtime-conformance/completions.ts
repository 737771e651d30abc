import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { newRunId } from '../../src/core/ids.js';
import { defineJob } from '../../src/jobs/define.js';
import { CompletionBatcher } from '../../src/runtime/completions.js';
import { deferred } from '../helpers/deck.js';
import { pollUntil } from '../helpers/poll.js';
import { QUIET_WORKER, admin, useInstances, type RuntimeConformanceContext } from './fixture.js';

/** Results written in batches: one bad result or one dropped connection sinks nothing else. */
export function describeCompletions(ctx: RuntimeConformanceContext): void {
  describe('completion batches', () => {
    const instances = useInstances(ctx.makeDatabase);

    /** Runs that all return at once (in one batch) when `go` is resolved. */
    function resultsJob(go: Promise<void>, started: () => void) {
      return defineJob({
        name: 'results',
        maxAttempts: 2,
        async run(_ctx, input) {
          started();
          await go;
          const { kind } = input as { kind: string };
          if (kind === 'bigint') return { count: 10n };
          if (kind === 'nul') return { text: 'a\u0000b' };
          return kind;
        },
      });
    }

    it('one result the store cannot keep fails only its own run; the rest of the batch completes', async () => {
      const go = deferred();
      let started = 0;
      const deck = await instances().open([resultsJob(go.promise, () => started++)]);
      const create = (kind: string) =>
        deck.runs.create({ job: 'results', input: { kind }, principal: admin });
      const [before, poisoned, after] = await Promise.all([
        create('first'),
        create('bigint'),
        create('last'),
      ]);
      await pollUntil(() => started === 3, { what: 'three handlers running' });
      go.resolve();
      for (const [{ run }, result] of [
        [before, 'first'],
        [after, 'last'],
      ] as const) {
        const done = await instances().waitForStatus(deck, run.id, 'completed', 'failed');
        expect(done).toMatchObject({ status: 'completed', attempt: 1, result });
      }
      const failed = await instances().waitForStatus(deck, poisoned.run.id, 'completed', 'failed');
      expect(failed).toMatchObject({
        status: 'failed',
        attempt: 1,
        result: null,
        error: { code: 'RESULT_NOT_STORABLE' },
      });
      expect(failed.error!.message).toContain('BigInt');
    });

    it('a result holding U+0000 ends failed with RESULT_NOT_STORABLE on every backend', async () => {
      const go = deferred();
      go.resolve();
      const deck = await instances().open([resultsJob(go.promise, () => {})]);
      const { run } = await deck.runs.create({
        job: 'results',
        input: { kind: 'nul' },
        principal: admin,
      });
      const done = await instances().waitForStatus(deck, run.id, 'completed', 'failed');
      expect(done).toMatchObject({
        status: 'failed',
        attempt: 1,
        error: { code: 'RESULT_NOT_STORABLE' },
      });
      expect(done.error!.message).toContain('result.text');
    });

    it('an error message holding U+0000 is stored with U+FFFD in its place on every backend', async () => {
      const job = defineJob({
        name: 'throws',
        maxAttempts: 1,
        run() {
          throw new Error('bad\u0000byte');
        },
      });
      const deck = await instances().open([job]);
      const { run } = await deck.runs.create({ job: 'throws', principal: admin });
      const done = await instances().waitForStatus(deck, run.id, 'completed', 'failed');
      expect(done).toMatchObject({
        status: 'failed',
        attempt: 1,
        error: { code: 'HANDLER_ERROR', message: 'bad\uFFFDbyte' },
      });
    });

    it('logs, progress and items holding U+0000 or lone surrogates are kept with U+FFFD on every backend', async () => {
      const job = defineJob({
        name: 'reports',
        maxAttempts: 1,
        async run(ctx) {
          ctx.log.info('line\u0000one', { note: 'x\ud800', ['k\u0000']: 1 });
          ctx.log.info('not json', { big: 10n });
          ctx.progress({ processed: 1, total: 2, message: 'half\u0000way' });
          await ctx.forEach(['a\u0000'], () => undefined, { key: (key) => key });
          return 'done';
        },
      });
      const deck = await instances().open([job]);
      const { run } = await deck.runs.create({ job: 'reports', principal: admin });
      const done = await instances().waitForStatus(deck, run.id, 'completed', 'failed');
      expect(done).toMatchObject({
        status: 'completed',
        result: 'done',
        progress: { message: 'half\uFFFDway' },
        items: [{ key: 'a\uFFFD', status: 'succeeded' }],
      });
      const logs = await deck.runs.logs(run.id);
      expect(logs.find((entry) => entry.message === 'line\uFFFDone')?.data).toEqual({
        note: 'x\uFFFD',
        ['k\uFFFD']: 1,
      });
      expect(logs.find((entry) => entry.message === 'not json')?.data).toMatch(
        /^\[not JSON: .*BigInt/,
      );
    });

    it('a batch the store refuses is written run by run: only the bad one is refused', async () => {
      const store = instances().db.openStore();
      try {
        await store.migrate();
        const now = new Date();
        for (let i = 0; i < 3; i++) {
          await store.runInsert({
            id: newRunId(),
            job: 'email',
            input: {},
            priority: 0,
            runAt: now,
            maxAttempts: 1,
            createdBy: 'alice',
            trigger: 'api',
            idempotencyKey: null,
            expireAt: null,
            retentionMs: 60_000,
            retryOf: null,
            now,
            exclusive: false,
          });
        }
        const claimed = await store.runClaim({
          workerId: 'w1',
          now,
          leaseMs: 60_000,
          limit: 3,
          jobs: [{ name: 'email', concurrency: null }],
        });
        expect(claimed).toHaveLength(3);
        const batcher = new CompletionBatcher(store, systemClock, { leaseMs: 60_000 });
        // One turn: one batch, whose second result cannot even be serialised.
        const written = await Promise.allSettled(
          claimed.map((run, i) =>
            batcher.complete(
              { id: run.id, attempt: run.attempt, workerId: 'w1' },
              i === 1 ? { count: 10n } : i,
            ),
          ),
        );
        expect(written.map((w) => w.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect((written[1] as PromiseRejectedResult).reason).toMatchObject({
          code: 'RESULT_NOT_STORABLE',
        });
        const stored = await Promise.all(claimed.map((run) => store.runGet({ id: run.id })));
        expect(stored.map((run) => run?.status)).toEqual(['completed', 'running', 'completed']);
      } finally {
        await store.close();
      }
    });

    if (ctx.rowLocks) {
      it('a connection dropped during the completion write is retried; the run completes in its attempt', async () => {
        const started = deferred();
        const go = deferred();
        const deck = await instances().open([resultsJob(go.promise, () => started.resolve())], {
          worker: QUIET_WORKER,
        });
        const { run } = await deck.runs.create({
          job: 'results',
          input: { kind: 'ok' },
          principal: admin,
        });
        await started.promise;
        const lock = await instances().db.lockRun!(run.id);
        go.resolve();
        await pollUntil(async () => (await lock.waiting()) > 0, { what: 'the completion write' });
        expect(await lock.terminateWaiting()).toBe(1);
        await lock.release();
        const done = await instances().waitForStatus(deck, run.id, 'completed', 'failed');
        expect(done).toMatchObject({ status: 'completed', attempt: 1, result: 'ok' });
      });
    }
  });
}
