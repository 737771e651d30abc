/**
 * The event feed on PostgreSQL when transactions commit out of seq order: a seq is taken when the
 * event is written, not when its transaction commits, so seq 10 may be visible while seq 9 is not
 * yet. A reader resuming from its last seq must never step over 9 — nor wait forever for a seq a
 * rolled-back transaction took. Real transactions on real connections hold the seqs open here.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { insertParams } from '../src/store/conformance/fixture.js';
import type { PostgresStore } from '../src/store/postgres/postgres-store.js';
import type { StoredEvent } from '../src/store/store.js';
import { pollUntil } from './helpers/poll.js';
import { PG_URL, makePostgresStore, postgresReachable } from './helpers/postgres.js';

const reachable = await postgresReachable();

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<{ store: PostgresStore; open: () => Promise<pg.Client> }> {
  const { store, schema, cleanup } = await makePostgresStore({ notify: false });
  cleanups.push(cleanup);
  const open = async () => {
    const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
    client.on('error', () => {});
    await client.connect();
    cleanups.push(() => client.end().catch(() => {}));
    return client;
  };
  return { store, open };
}

/** Insert a run in an open transaction of `client` (its run.created event takes a seq). */
async function insertInTransaction(client: pg.Client, job: string): Promise<void> {
  const p = insertParams({ job });
  await client.query('BEGIN');
  await client.query(
    `INSERT INTO jobdeck_runs (id, job, input, status, max_attempts, run_at, created_at, created_by, trigger, retention_ms)
     VALUES ($1, $2, '{}', 'pending', 1, 0, 0, 'test', 'api', 1000)`,
    [p.id, job],
  );
}

/** Read as a live reader does: from its last seq, as far as the store lets it. */
async function readFrom(store: PostgresStore, cursor: { seq: number }, into: StoredEvent[]) {
  const page = await store.eventList({ afterSeq: cursor.seq, limit: 100 });
  into.push(...page.events);
  if (page.events.length) cursor.seq = page.events.at(-1)!.seq;
  return page;
}

describe.skipIf(!reachable)('event feed: out-of-order commits (PostgreSQL)', () => {
  it('holds back a later seq until the earlier one commits, then delivers both in order', async () => {
    const { store, open } = await setup();
    const [early, late] = [await open(), await open()];
    await insertInTransaction(early, 'early'); // takes seq 1, not committed
    await insertInTransaction(late, 'late'); // takes seq 2
    await late.query('COMMIT');

    const got: StoredEvent[] = [];
    const cursor = { seq: 0 };
    const first = await readFrom(store, cursor, got);
    expect(first).toMatchObject({ events: [], waiting: true });
    // Still open: reading again still holds seq 2 back.
    expect((await readFrom(store, cursor, got)).waiting).toBe(true);
    expect(got).toEqual([]);

    await early.query('COMMIT');
    await readFrom(store, cursor, got);
    expect(got.map((e) => e.job)).toEqual(['early', 'late']);
    // Rows 1 and 2 of the feed, one event each: event number = row * 1024 + place.
    expect(got.map((e) => e.seq)).toEqual([1024, 2048]);
  });

  it('steps over a seq whose transaction rolled back, once no transaction of that time is open', async () => {
    const { store, open } = await setup();
    const [doomed, other] = [await open(), await open()];
    await insertInTransaction(doomed, 'doomed'); // seq 1
    await insertInTransaction(other, 'kept'); // seq 2
    await other.query('COMMIT');
    const got: StoredEvent[] = [];
    const cursor = { seq: 0 };
    expect((await readFrom(store, cursor, got)).waiting).toBe(true);
    await doomed.query('ROLLBACK');
    await pollUntil(
      async () => {
        await readFrom(store, cursor, got);
        return got.length > 0;
      },
      { what: 'the reader to step over the rolled-back seq' },
    );
    expect(got.map((e) => [e.seq, e.job])).toEqual([[2048, 'kept']]);
  });

  it('many writers at once: a reader following the feed gets every event once, in seq order', async () => {
    const { store } = await setup();
    const got: StoredEvent[] = [];
    const cursor = { seq: 0 };
    let writing = true;
    const reader = (async () => {
      while (writing) await readFrom(store, cursor, got);
    })();
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 40; i++) await store.runInsert(insertParams({ job: `w${w}` }));
    });
    await Promise.all(writers);
    writing = false;
    await reader;
    const { last } = await store.eventBounds();
    await pollUntil(
      async () => {
        await readFrom(store, cursor, got);
        return cursor.seq === last;
      },
      { what: 'the reader to catch up' },
    );
    const seqs = got.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(320);
    expect(got).toHaveLength(320);
  });

  it('a statement of more than 1,024 events writes one row per 1,024; readers get each once, in order', async () => {
    const { store, open } = await setup();
    const client = await open();
    await client.query(
      `INSERT INTO jobdeck_runs (id, job, input, status, max_attempts, run_at, created_at, created_by, trigger, retention_ms)
       SELECT 'bulk-' || lpad(i::text, 4, '0'), 'bulk', '{}', 'pending', 1, 0, i, 'test', 'api', 1000
       FROM generate_series(1, 1500) AS i`,
    );
    const rows = await client.query<{ seq: string; n: number }>(
      'SELECT seq, cardinality(names) AS n FROM jobdeck_events ORDER BY seq',
    );
    expect(rows.rows.map((r) => r.n)).toEqual([1024, 476]);
    const got: StoredEvent[] = [];
    const cursor = { seq: 0 };
    while ((await readFrom(store, cursor, got)).events.length > 0);
    expect(got.map((e) => e.runId)).toEqual(
      Array.from({ length: 1500 }, (_, i) => `bulk-${String(i + 1).padStart(4, '0')}`),
    );
    const seqs = got.map((e) => e.seq);
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
    expect(await store.eventBounds()).toEqual({ last: seqs.at(-1), pruned: 0 });
  });
});
