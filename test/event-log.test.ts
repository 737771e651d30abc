/**
 * The feed as streams read it, on a real SQLite file: recent events from memory (bounded), older
 * ones from the store, resumes checked against the store's bounds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventLog } from '../src/api/sse.js';
import { EventFeed } from '../src/events/feed.js';
import { insertParams } from '../src/store/conformance/fixture.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { pollUntil } from './helpers/poll.js';
import { tempDbPath } from './helpers/temp.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(limits: { maxEvents?: number; maxBytes?: number }) {
  const { path, cleanup } = tempDbPath();
  const store = new SqliteStore({ path });
  await store.migrate();
  const feed = new EventFeed({ store, pollMs: 10 });
  const log = new EventLog(feed, limits);
  cleanups.push(
    cleanup,
    () => store.close(),
    () => feed.stop(),
    () => log.close(),
  );
  return { store, feed, log };
}

describe('EventLog', () => {
  it('holds at most maxEvents in memory; a stream further behind pages from the store', async () => {
    const { store, log } = await setup({ maxEvents: 3 });
    expect(await log.resume(undefined)).toEqual({ cursor: 0 });
    for (let i = 0; i < 10; i++) await store.runInsert(insertParams({ job: `j${i}` }));
    await pollUntil(() => log.head === 10, { what: 'the feed to read ten events' });
    // From the start: the store's pages (memory holds only the last three).
    const all = await log.after(0, 100);
    expect(all.map((e) => [e.seq, e.job])).toEqual(
      Array.from({ length: 10 }, (_, i) => [i + 1, `j${i}`]),
    );
    // Close to the head: the same events, from memory.
    expect((await log.after(7, 100)).map((e) => e.seq)).toEqual([8, 9, 10]);
    expect((await log.after(8, 1)).map((e) => e.seq)).toEqual([9]);
    expect(all[9]!.text).toContain('id: 10\nevent: run.created\n');
  });

  it('resumes an id it can, resets one it cannot', async () => {
    const { store, log } = await setup({});
    for (let i = 0; i < 4; i++) await store.runInsert(insertParams());
    await log.start();
    expect(await log.resume('2')).toEqual({ cursor: 2 });
    expect(await log.resume('99')).toEqual({ cursor: log.head, reset: 'unknown' });
    expect(await log.resume('1-2')).toEqual({ cursor: log.head, reset: 'unknown' });
    await store.eventDeleteExpired({
      now: new Date(Date.now() + 60_000),
      retentionMs: 0,
      limit: 3,
    });
    expect(await log.resume('2')).toEqual({ cursor: log.head, reset: 'expired' });
    expect(await log.resume('3')).toEqual({ cursor: 3 });
  });
});
