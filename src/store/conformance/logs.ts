import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../core/run.js';
import {
  at,
  expectErrorCode,
  insertParams,
  insertRun,
  refOf,
  startRun,
  useStore,
  type ConformanceContext,
} from './fixture.js';

function entries(from: number, count: number): LogEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    level: 'info' as const,
    message: `line ${from + i}`,
    time: at(from + i),
  }));
}

/** Run logs: numbering, reading, the per-run cap. */
export function describeLogs(ctx: ConformanceContext): void {
  describe('logs', () => {
    const store = useStore(ctx.makeStore);

    it('logAppend numbers entries in order; logList returns level, message, data and time', async () => {
      const run = await startRun(store());
      const stored = await store().logAppend({
        runId: run.id,
        ref: refOf(run),
        entries: [
          { level: 'debug', message: 'first', time: at(1) },
          { level: 'warn', message: 'second', data: { n: 2, tags: ['x'] }, time: at(2) },
        ],
        cap: 100,
      });
      expect(stored.map((e) => [e.runId, e.seq, e.message])).toEqual([
        [run.id, 1, 'first'],
        [run.id, 2, 'second'],
      ]);
      const more = await store().logAppend({
        runId: run.id,
        entries: [{ level: 'error', message: 'third', data: 'text', time: at(3) }],
        cap: 100,
      });
      expect(more.map((e) => e.seq)).toEqual([3]);
      expect(await store().logList({ runId: run.id })).toEqual([
        { runId: run.id, seq: 1, level: 'debug', message: 'first', time: at(1) },
        {
          runId: run.id,
          seq: 2,
          level: 'warn',
          message: 'second',
          data: { n: 2, tags: ['x'] },
          time: at(2),
        },
        { runId: run.id, seq: 3, level: 'error', message: 'third', data: 'text', time: at(3) },
      ]);
    });

    it('logList pages with afterSeq and limit', async () => {
      const run = await insertRun(store());
      await store().logAppend({ runId: run.id, entries: entries(1, 10), cap: 100 });
      const page = await store().logList({ runId: run.id, afterSeq: 3, limit: 4 });
      expect(page.map((e) => e.seq)).toEqual([4, 5, 6, 7]);
      const rest = await store().logList({ runId: run.id, afterSeq: 7 });
      expect(rest.map((e) => e.seq)).toEqual([8, 9, 10]);
      expect(await store().logList({ runId: run.id, afterSeq: 10 })).toEqual([]);
    });

    it('logAppend with cap N keeps the newest N entries; sequence numbers keep increasing', async () => {
      const run = await insertRun(store());
      const first = await store().logAppend({ runId: run.id, entries: entries(1, 5), cap: 3 });
      expect(first.map((e) => e.seq)).toEqual([3, 4, 5]);
      expect((await store().logList({ runId: run.id })).map((e) => e.seq)).toEqual([3, 4, 5]);
      const second = await store().logAppend({ runId: run.id, entries: entries(6, 2), cap: 3 });
      expect(second.map((e) => e.seq)).toEqual([6, 7]);
      const kept = await store().logList({ runId: run.id });
      expect(kept.map((e) => [e.seq, e.message])).toEqual([
        [5, 'line 5'],
        [6, 'line 6'],
        [7, 'line 7'],
      ]);
      for (let i = 8; i <= 20; i++) {
        await store().logAppend({ runId: run.id, entries: entries(i, 1), cap: 3 });
      }
      expect((await store().logList({ runId: run.id })).map((e) => e.seq)).toEqual([18, 19, 20]);
    });

    it('logs of different runs are numbered and kept apart', async () => {
      const a = await insertRun(store());
      const b = await insertRun(store());
      await store().logAppend({ runId: a.id, entries: entries(1, 3), cap: 100 });
      await store().logAppend({ runId: b.id, entries: entries(1, 2), cap: 2 });
      await store().logAppend({ runId: a.id, entries: entries(4, 1), cap: 100 });
      expect((await store().logList({ runId: a.id })).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect((await store().logList({ runId: b.id })).map((e) => e.seq)).toEqual([1, 2]);
    });

    it('logAppend without ref is accepted whatever the run status', async () => {
      const waiting = await insertRun(store());
      const done = await startRun(store(), { insert: { job: 'sms' } });
      await store().runFinishIfAttempt({
        ref: refOf(done),
        now: at(5),
        outcome: { status: 'completed', result: null },
      });
      for (const run of [waiting, done]) {
        const stored = await store().logAppend({
          runId: run.id,
          entries: [{ level: 'info', message: 'from the system', time: at(6) }],
          cap: 10,
        });
        expect(stored.map((e) => e.seq)).toEqual([1]);
      }
    });

    it('logAppend to an unknown run is RUN_NOT_FOUND', async () => {
      await expectErrorCode(
        store().logAppend({ runId: insertParams().id, entries: entries(1, 1), cap: 10 }),
        'RUN_NOT_FOUND',
      );
    });
  });
}
