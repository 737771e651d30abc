/**
 * Cancelling a run cancels its live child runs in the same mode, and their children, and nothing
 * else: not a child that already ended, not another run's children. (The runtime conformance
 * suite covers the same with handlers running; this covers the tree.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Jobdeck } from '../src/jobdeck.js';
import { defineJob } from '../src/jobs/define.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { EVENT_DEADLINE_MS, pollUntil } from './helpers/poll.js';
import { tempDbPath } from './helpers/temp.js';

const owner = { name: 'olga', role: 'operator' as const };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function deckWithoutWorker(
  maintenance: false | { stuckCheckMs: number } = false,
): Promise<Jobdeck> {
  const { path, cleanup } = tempDbPath();
  cleanups.push(cleanup);
  const job = defineJob({ name: 'tree', run: async () => null });
  const deck = await new Jobdeck({
    store: new SqliteStore({ path }),
    jobs: [job],
    worker: false,
    scheduler: false,
    maintenance,
  }).start();
  cleanups.push(() => deck.close());
  return deck;
}

describe('cancelling a parent run', () => {
  for (const mode of ['graceful', 'force'] as const) {
    it(`${mode}: cancels its live children and theirs, in the same mode, and nothing else`, async () => {
      const deck = await deckWithoutWorker();
      const { run: parent } = await deck.runs.create({ job: 'tree', principal: owner });
      const { run: other } = await deck.runs.create({ job: 'tree', principal: owner });
      const child = (key: string, of = parent) =>
        deck.runs.createChild(of, { job: 'tree', key, input: {} });
      const [first, second] = [await child('first'), await child('second')];
      const grandchild = await child('grand', first);
      const ended = await child('ended');
      await deck.cancels.cancel(ended.id, { mode: 'graceful' }, owner);
      const unrelated = await child('unrelated', other);

      const result = await deck.cancels.cancel(parent.id, { mode, reason: 'enough' }, owner);
      expect(result.run.status).toBe('cancelled');

      for (const run of [first, second, grandchild]) {
        const now = await deck.runs.get(run.id);
        expect(now.status, run.id).toBe('cancelled');
        expect(now.cancel).toMatchObject({ mode, requestedBy: 'olga' });
        expect(now.cancel!.reason).toMatch(/^parent run \S+ was cancelled$/);
      }
      expect((await deck.runs.get(grandchild.id)).cancel!.reason).toBe(
        `parent run ${first.id} was cancelled`,
      );
      // Already ended: its own cancel stays as it was.
      expect((await deck.runs.get(ended.id)).cancel).toMatchObject({
        mode: 'graceful',
        reason: null,
      });
      expect((await deck.runs.get(unrelated.id)).status).toBe('pending');
      expect((await deck.runs.get(other.id)).status).toBe('pending');
    });
  }

  it('a child started twice with one key is one run; its parentId and trigger say whose it is', async () => {
    const deck = await deckWithoutWorker();
    const { run: parent } = await deck.runs.create({ job: 'tree', principal: owner });
    const a = await deck.runs.createChild(parent, { job: 'tree', key: 'only', input: {} });
    const b = await deck.runs.createChild(parent, { job: 'tree', key: 'only', input: {} });
    expect(b.id).toBe(a.id);
    expect(a).toMatchObject({ parentId: parent.id, trigger: 'parent', createdBy: 'olga' });
    const listed = await deck.runs.list({ parentId: parent.id });
    expect(listed.runs.map((r) => r.id)).toEqual([a.id]);
  });

  it('a cascade cut short (the instance stopped midway) is finished later, in the mode and by whom the parent was cancelled', async () => {
    const deck = await deckWithoutWorker();
    const { run: parent } = await deck.runs.create({ job: 'tree', principal: owner });
    const child = (key: string, of = parent) =>
      deck.runs.createChild(of, { job: 'tree', key, input: {} });
    const first = await child('first');
    const grandchild = await child('grand', first);
    // The parent's cancel is stored, and nothing of its cascade.
    await deck.store.runCancel({
      id: parent.id,
      mode: 'force',
      reason: null,
      requestedBy: 'olga',
      now: new Date(),
    });
    expect((await deck.runs.get(first.id)).status).toBe('pending');

    expect(await deck.cancels.cancelUncancelledChildren()).toBe(1);
    for (const run of [first, grandchild]) {
      const now = await deck.runs.get(run.id);
      expect(now.status, run.id).toBe('cancelled');
      expect(now.cancel).toMatchObject({ mode: 'force', requestedBy: 'olga' });
    }
    expect((await deck.runs.get(grandchild.id)).cancel!.reason).toBe(
      `parent run ${first.id} was cancelled`,
    );
    expect(await deck.cancels.cancelUncancelledChildren()).toBe(0);
  });

  it('maintenance finishes a cut-short cascade on its own, as often as it checks for stuck runs', async () => {
    const deck = await deckWithoutWorker({ stuckCheckMs: 20 });
    const { run: parent } = await deck.runs.create({ job: 'tree', principal: owner });
    const orphan = await deck.runs.createChild(parent, { job: 'tree', key: 'orphan', input: {} });
    await deck.store.runCancel({
      id: parent.id,
      mode: 'graceful',
      reason: null,
      requestedBy: 'olga',
      now: new Date(),
    });
    const cancelled = await pollUntil(
      async () => {
        const run = await deck.runs.get(orphan.id);
        return run.status === 'cancelled' && run;
      },
      { timeoutMs: EVENT_DEADLINE_MS, what: 'the orphaned child to be cancelled' },
    );
    expect(cancelled.cancel).toMatchObject({
      mode: 'graceful',
      requestedBy: 'olga',
      reason: `parent run ${parent.id} was cancelled`,
    });
  });
});
