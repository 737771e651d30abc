import { describe, expect, it } from 'vitest';
import type { Store, StoredEvent } from '../store.js';
import {
  BASE,
  DAY,
  SECOND,
  at,
  claimParams,
  expectErrorCode,
  insertParams,
  insertRun,
  refOf,
  startRun,
  useStore,
  useStorePair,
  type ConformanceContext,
} from './fixture.js';

/** Every event after `afterSeq`, paging as a reader would. */
async function readAll(store: Store, afterSeq = 0, limit = 3): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (let cursor = afterSeq; ; ) {
    const page = await store.eventList({ afterSeq: cursor, limit });
    if (page.events.length === 0) return events;
    events.push(...page.events);
    cursor = page.events[page.events.length - 1]!.seq;
  }
}

const summary = (events: StoredEvent[]) =>
  events.map(
    (e) => `${e.name}:${e.status ?? '-'}${e.name === 'run.log' ? `:${e.log?.message}` : ''}`,
  );

/** The event feed: every change of a run or job, numbered, written with the change itself. */
export function describeEvents(ctx: ConformanceContext): void {
  describe('event feed', () => {
    const store = useStore(ctx.makeStore);

    it('a fresh store has no events', async () => {
      expect(await store().eventBounds()).toEqual({ last: 0, pruned: 0 });
      expect(await store().eventList({ afterSeq: 0, limit: 10 })).toEqual({
        events: [],
        waiting: false,
      });
    });

    it("a run's life is written in order, each event with the run as it left it", async () => {
      const s = store();
      const run = await startRun(s);
      const ref = refOf(run);
      await s.runProgressSet({
        ref,
        progress: { processed: 1, total: 2, percent: 50, message: 'half' },
        now: at(1),
      });
      await s.logAppend({
        runId: run.id,
        ref,
        cap: 100,
        entries: [
          { level: 'info', message: 'one', time: at(2) },
          { level: 'warn', message: 'two', data: { n: 2 }, time: at(3) },
        ],
      });
      await s.runFinishIfAttempt({
        ref,
        now: at(4),
        outcome: { status: 'completed', result: { ok: true } },
      });
      const events = await readAll(s);
      expect(summary(events)).toEqual([
        'run.created:pending',
        'run.started:running',
        'run.progress:running',
        'run.log:running:one',
        'run.log:running:two',
        'run.finished:completed',
      ]);
      // Numbers that only grow, global to the store (a backend may leave some out between the
      // events of two statements).
      const seqs = events.map((e) => e.seq);
      expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
      expect((await s.eventBounds()).last).toBe(events.at(-1)!.seq);
      for (const event of events) {
        expect(event.runId).toBe(run.id);
        expect(event.job).toBe('email');
        expect(event.at).toBeInstanceOf(Date);
      }
      const [created, started, progress, log1, log2, finished] = events;
      // Run events come with the run as stored now (no copy is kept per event): the status each
      // event recorded is its own field.
      for (const event of [created, started, progress, finished]) {
        if (!event || !('run' in event)) throw new Error('expected a run event');
        expect(event.run).toMatchObject({
          id: run.id,
          status: 'completed',
          attempt: 1,
          workerId: 'worker-a',
          finishedAt: at(4),
          progress: { processed: 1, total: 2, percent: 50, message: 'half' },
          // Payloads are read from the run, not carried by events.
          input: null,
          result: null,
        });
      }
      if (log1?.name !== 'run.log' || log2?.name !== 'run.log') throw new Error('expected logs');
      expect(log1.log).toMatchObject({ runId: run.id, level: 'info', message: 'one' });
      expect(log2.log).toMatchObject({
        level: 'warn',
        message: 'two',
        data: { n: 2 },
        time: at(3),
      });
    });

    it('the events of a run deleted by retention stay, without the run', async () => {
      const s = store();
      const run = await startRun(s);
      await s.runFinishIfAttempt({
        ref: refOf(run),
        now: at(1),
        outcome: { status: 'completed', result: null },
      });
      expect(await s.runDeleteFinished({ now: at(30 * DAY), limit: 10 })).toBe(1);
      const events = await readAll(s);
      expect(summary(events)).toEqual([
        'run.created:pending',
        'run.started:running',
        'run.finished:completed',
      ]);
      for (const event of events)
        expect(event.name !== 'run.log' && 'run' in event && event.run).toBe(null);
    });

    it('writes that change nothing write no event', async () => {
      const s = store();
      const params = insertParams({ idempotencyKey: 'k1' });
      await s.runInsert(params);
      const afterInsert = (await s.eventBounds()).last;
      // The same key again returns the existing run: no second run.created.
      expect((await s.runInsert({ ...params, id: insertParams().id })).created).toBe(false);
      const [run] = await s.runClaim(claimParams());
      await s.leaseRenew({
        workerId: 'worker-a',
        now: at(SECOND),
        leaseMs: 30 * SECOND,
        runs: [{ id: run!.id, attempt: 1 }],
      });
      const stale = { ...refOf(run!), attempt: 7 };
      await expectErrorCode(
        s.runProgressSet({
          ref: stale,
          progress: { processed: 1, total: null, percent: null, message: null },
          now: at(2),
        }),
        'LEASE_LOST',
      );
      await expectErrorCode(
        s.runFinishIfAttempt({
          ref: stale,
          now: at(3),
          outcome: { status: 'completed', result: 1 },
        }),
        'LEASE_LOST',
      );
      expect(summary(await readAll(s, afterInsert))).toEqual(['run.started:running']);
    });

    it('retries, cancels and job changes are events too', async () => {
      const s = store();
      const run = await startRun(s);
      await s.runFinishIfAttempt({
        ref: refOf(run),
        now: at(1),
        outcome: {
          status: 'scheduled',
          runAt: at(10 * SECOND),
          error: { code: 'E', message: 'm' },
        },
      });
      const waiting = await insertRun(s, { job: 'sms' });
      await s.runCancel({
        id: waiting.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'bob',
        now: at(2),
      });
      const held = await startRun(s, { insert: { job: 'pdf' } });
      await s.runCancel({
        id: held.id,
        mode: 'graceful',
        reason: 'r',
        requestedBy: 'bob',
        now: at(3),
      });
      await s.jobStateSet({ name: 'sms', enabled: false, now: at(4) });
      await s.jobStateSet({ name: 'sms', enabled: true, now: at(5) });
      const events = await readAll(s);
      expect(events.map((e) => `${e.name}:${e.job}:${e.status ?? '-'}`)).toEqual([
        'run.created:email:pending',
        'run.started:email:running',
        'run.retrying:email:scheduled',
        'run.created:sms:pending',
        'run.finished:sms:cancelled',
        'run.created:pdf:pending',
        'run.started:pdf:running',
        'run.cancelling:pdf:cancelling',
        'job.updated:sms:-',
        'job.updated:sms:-',
      ]);
      const jobs = events.filter((e) => e.name === 'job.updated');
      expect(jobs.map((e) => (e.name === 'job.updated' ? e.jobState : null))).toEqual([
        { name: 'sms', enabled: false, updatedAt: at(4) },
        { name: 'sms', enabled: true, updatedAt: at(5) },
      ]);
      expect(jobs.every((e) => e.runId === null)).toBe(true);
    });

    it('a log line the cap dropped leaves its event without the line', async () => {
      const s = store();
      const run = await startRun(s);
      const entries = ['a', 'b', 'c'].map((message, i) => ({
        level: 'info' as const,
        message,
        time: at(i),
      }));
      await s.logAppend({ runId: run.id, ref: refOf(run), cap: 2, entries });
      const logs = (await readAll(s)).filter((e) => e.name === 'run.log');
      expect(logs.map((e) => (e.name === 'run.log' ? (e.log?.message ?? null) : 'x'))).toEqual([
        null,
        'b',
        'c',
      ]);
    });

    it('retention removes old events, never the newest, and remembers how far it went', async () => {
      const s = store();
      await insertRun(s);
      await insertRun(s);
      await insertRun(s);
      const [first, second, third] = (await readAll(s)).map((e) => e.seq);
      const { last } = await s.eventBounds();
      expect(last).toBe(third);
      // Nothing is older than a day yet.
      expect(await s.eventDeleteExpired({ now: null, retentionMs: DAY, limit: 100 })).toBe(0);
      expect(await s.eventDeleteExpired({ now: at(2 * DAY), retentionMs: 0, limit: 1 })).toBe(1);
      expect(await s.eventBounds()).toEqual({ last, pruned: first });
      // The newest stays, so the numbers only grow.
      expect(await s.eventDeleteExpired({ now: at(2 * DAY), retentionMs: 0, limit: 100 })).toBe(1);
      expect(await s.eventBounds()).toEqual({ last, pruned: second });
      expect((await s.eventList({ afterSeq: 0, limit: 10 })).events.map((e) => e.seq)).toEqual([
        last,
      ]);
      await insertRun(s);
      const [next] = (await readAll(s, last)).map((e) => e.seq);
      expect(next).toBeGreaterThan(last);
      expect(await readAll(s)).toHaveLength(2);
    });

    it('pages: afterSeq and limit', async () => {
      const s = store();
      for (let i = 0; i < 5; i++) await insertRun(s, { now: new Date(BASE.getTime() + i) });
      const all = (await s.eventList({ afterSeq: 0, limit: 100 })).events;
      expect(all).toHaveLength(5);
      const page = await s.eventList({ afterSeq: all[1]!.seq, limit: 2 });
      expect(page.events.map((e) => e.seq)).toEqual([all[2]!.seq, all[3]!.seq]);
    });

    it('the events of one statement page one by one, each once and in order', async () => {
      const s = store();
      const inserted = [];
      for (let i = 0; i < 5; i++) inserted.push(await insertRun(s));
      const { last } = await s.eventBounds();
      // One claim of five runs: five run.started events written by one statement.
      expect(await s.runClaim(claimParams({ limit: 5 }))).toHaveLength(5);
      const started = await readAll(s, last, 2);
      expect(started.map((e) => e.name)).toEqual(Array(5).fill('run.started'));
      expect(new Set(started.map((e) => e.runId))).toEqual(new Set(inserted.map((r) => r.id)));
      const seqs = started.map((e) => e.seq);
      expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
      expect((await s.eventBounds()).last).toBe(seqs.at(-1));
      // Resuming from the middle of the statement's events gives the rest of them.
      expect((await readAll(s, seqs[2], 1)).map((e) => e.seq)).toEqual(seqs.slice(3));
    });
  });

  if (ctx.makeStorePair) {
    const makeStorePair = ctx.makeStorePair;
    describe('event feed across instances', () => {
      const pair = useStorePair(makeStorePair);

      it("one instance reads the other's events, and its watch hears of them", async () => {
        const [a, b] = pair();
        let woken = 0;
        const watch = b.eventWatch ? await b.eventWatch(() => woken++) : null;
        try {
          const run = await insertRun(a);
          const events = (await b.eventList({ afterSeq: 0, limit: 10 })).events;
          expect(events.map((e) => [e.name, e.runId])).toEqual([['run.created', run.id]]);
          if (watch?.healthy) {
            const deadline = Date.now() + 5000;
            while (woken === 0 && Date.now() < deadline)
              await new Promise((r) => setTimeout(r, 10));
            expect(woken).toBeGreaterThan(0);
          }
        } finally {
          await watch?.close();
        }
      });
    });
  }
}
