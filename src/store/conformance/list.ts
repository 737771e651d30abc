import { describe, expect, it } from 'vitest';
import type { RunStatus } from '../../core/status.js';
import type { RunFilter, Store } from '../store.js';
import {
  MINUTE,
  SECOND,
  at,
  forceCancel,
  insertRun,
  refOf,
  startRun,
  useStore,
  type ConformanceContext,
} from './fixture.js';

/** What a test knows of a run it made, to work out by itself which runs a filter matches. */
interface Made {
  id: string;
  job: string;
  createdBy: string;
  createdAt: number;
  status: RunStatus;
}

const JOBS = ['email', 'sms', 'push'];
const CREATORS = ['alice', 'bob', 'carol'];

/**
 * `count` runs, one a second from BASE, of three jobs and three creators, in every status but
 * cancelling: each third one started (some completed, failed or force-cancelled), a few
 * cancelled before they started, a few scheduled for later.
 */
async function makeRuns(store: Store, count: number): Promise<Made[]> {
  const made: Made[] = [];
  for (let i = 0; i < count; i++) {
    const now = at(i * SECOND);
    const job = JOBS[i % 3]!;
    const createdBy = CREATORS[Math.floor(i / 3) % 3]!;
    const fields = { job, createdBy, now };
    let status: RunStatus;
    let id: string;
    if (i % 3 === 1) {
      // A higher priority than every waiting run, so the claim takes this one.
      const run = await startRun(store, { now, insert: { ...fields, priority: 1 } });
      id = run.id;
      status = (['running', 'completed', 'failed', 'cancelled'] as const)[i % 4]!;
      if (status === 'cancelled') await forceCancel(store, id, now);
      if (status === 'completed' || status === 'failed') {
        await store.runFinishIfAttempt({
          ref: refOf(run),
          now,
          outcome:
            status === 'completed'
              ? { status, result: null }
              : { status, error: { code: 'HANDLER_ERROR', message: 'no' } },
        });
      }
    } else if (i % 11 === 5) {
      id = (await insertRun(store, { ...fields, runAt: at(i * SECOND + MINUTE) })).id;
      status = 'scheduled';
    } else {
      id = (await insertRun(store, fields)).id;
      status = 'pending';
      if (i % 7 === 2) {
        await forceCancel(store, id, now);
        status = 'cancelled';
      }
    }
    made.push({ id, job, createdBy, createdAt: now.getTime(), status });
  }
  return made;
}

/** The runs `filter` should match, newest first, worked out from what was made. */
function expected(made: Made[], filter: RunFilter): string[] {
  return made
    .filter(
      (run) =>
        (filter.job === undefined || run.job === filter.job) &&
        (filter.createdBy === undefined || run.createdBy === filter.createdBy) &&
        (filter.status === undefined || filter.status.includes(run.status)) &&
        (filter.ids === undefined || filter.ids.includes(run.id)) &&
        (filter.createdFrom === undefined || run.createdAt >= filter.createdFrom.getTime()) &&
        (filter.createdTo === undefined || run.createdAt < filter.createdTo.getTime()) &&
        (filter.idPrefix === undefined || run.id.startsWith(filter.idPrefix)),
    )
    .map((run) => run.id)
    .reverse();
}

/** Every page of `filter`, `limit` runs at a time: the ids in order. */
async function allPages(store: Store, filter: RunFilter, limit: number): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; ; pages++) {
    expect(pages, 'pages never end').toBeLessThan(500);
    const page: { runs: { id: string }[]; nextCursor: string | null } = await store.runList({
      ...filter,
      limit,
      cursor,
    });
    expect(page.runs.length).toBeLessThanOrEqual(limit);
    seen.push(...page.runs.map((run) => run.id));
    if (page.nextCursor === null) return seen;
    expect(page.runs).toHaveLength(limit);
    cursor = page.nextCursor;
  }
}

/** runList's filters on creation time and id prefix, every filter combined, and runCount. */
export function describeList(ctx: ConformanceContext): void {
  describe('list filters and counts', () => {
    const store = useStore(ctx.makeStore);

    it('every filter and combination pages through exactly its runs, newest first, and counts them', async () => {
      const made = await makeRuns(store(), 240);
      const some = made[100]!;
      const filters: RunFilter[] = [
        {},
        { job: 'sms' },
        { createdBy: 'carol' },
        { status: ['running'] },
        { status: ['pending', 'running', 'scheduled'] },
        { status: ['completed', 'pending'] },
        { createdFrom: at(30 * SECOND), createdTo: at(90 * SECOND) },
        { createdFrom: at(200 * SECOND) },
        { createdTo: at(17 * SECOND) },
        // Sparse among the runs of the job, so the walk takes several batches.
        { job: 'sms', createdBy: 'bob', status: ['completed'] },
        { createdBy: 'alice', createdFrom: at(50 * SECOND), createdTo: at(150 * SECOND) },
        { status: ['failed'], createdFrom: at(100 * SECOND) },
        { idPrefix: some.id },
        { idPrefix: some.id.slice(0, 9) },
        { idPrefix: some.id.slice(0, 30), status: [some.status] },
        { idPrefix: 'ffffffff-' },
        { ids: [made[3]!.id, made[4]!.id, some.id, made[200]!.id], status: ['pending'] },
        { job: 'none' },
      ];
      for (const filter of filters) {
        const want = expected(made, filter);
        const what = JSON.stringify(filter);
        expect(await allPages(store(), filter, 7), what).toEqual(want);
        expect(await store().runCount({ ...filter, limit: 1000 }), what).toBe(want.length);
        expect(await store().runCount({ ...filter, limit: 5 }), what).toBe(
          Math.min(5, want.length),
        );
      }
      // The fixture reached what the filters are about.
      expect(expected(made, { job: 'sms', createdBy: 'bob', status: ['completed'] })).not.toEqual(
        [],
      );
      expect(expected(made, { idPrefix: some.id.slice(0, 9) }).length).toBeGreaterThan(1);
    });

    it('the creation window is half-open: from is in, to is out', async () => {
      const before = await insertRun(store(), { now: at(-1) });
      const first = await insertRun(store(), { now: at(0) });
      const last = await insertRun(store(), { now: at(MINUTE - 1) });
      await insertRun(store(), { now: at(MINUTE) });
      const window = { createdFrom: at(0), createdTo: at(MINUTE) };
      const { runs } = await store().runList({ ...window, limit: 10 });
      expect(runs.map((run) => run.id)).toEqual([last.id, first.id]);
      expect(await store().runCount({ ...window, limit: 10 })).toBe(2);
      expect(
        (await store().runList({ createdTo: at(0), limit: 10 })).runs.map((r) => r.id),
      ).toEqual([before.id]);
    });

    it('a whole id as prefix finds its run; a prefix of no run finds none', async () => {
      const run = await insertRun(store());
      await insertRun(store());
      expect((await store().runList({ idPrefix: run.id, limit: 10 })).runs).toEqual([run]);
      expect(await store().runCount({ idPrefix: `${run.id}0`, limit: 10 })).toBe(0);
      expect(await store().runCount({ idPrefix: run.id.slice(0, 8) + '+', limit: 10 })).toBe(0);
    });

    it('runCount with limit 0 counts nothing', async () => {
      await insertRun(store());
      expect(await store().runCount({ limit: 0 })).toBe(0);
    });
  });
}
