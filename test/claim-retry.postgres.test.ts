/**
 * PostgreSQL: the claim of a retried run and the clearing of its previous attempt's unfinished
 * items are one atomic step, so a force cancel can never see those items on the new attempt (the
 * items that succeeded stay: they belong to the run).
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { at, claimParams, insertRun, refOf } from '../src/store/conformance/fixture.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { pollUntil } from './helpers/poll.js';
import { PG_URL, makePostgresStore, postgresReachable } from './helpers/postgres.js';

const reachable = await postgresReachable();

const defer = cleanupAfterEach();

describe.skipIf(!reachable)('claim of a retried run on PostgreSQL', () => {
  it("a force cancel during the claim of attempt 2 never sees attempt 1's unfinished items", async () => {
    const { store, schema, cleanup } = await makePostgresStore({ notify: false });
    defer(cleanup);
    const run = await insertRun(store);
    const [first] = await store.runClaim(claimParams({ now: at(0) }));
    await store.itemsUpsert({
      ref: refOf(first!),
      items: [
        { key: 'a', status: 'succeeded' },
        { key: 'b', status: 'running' },
      ],
    });
    await store.runFinishIfAttempt({
      ref: refOf(first!),
      now: at(1),
      outcome: { status: 'scheduled', runAt: at(1), error: { code: 'X', message: 'retry' } },
    });

    // Another session holds attempt 1's unfinished item, so the clearing of it waits.
    const blocker = new pg.Client({ connectionString: PG_URL });
    await blocker.connect();
    defer(() => blocker.end());
    await blocker.query('BEGIN');
    await blocker.query(
      `SELECT * FROM ${pg.escapeIdentifier(schema)}.jobdeck_run_items WHERE run_id = $1 AND key = 'b' FOR UPDATE`,
      [run.id],
    );
    const pidOf = async (client: pg.Client) =>
      (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    // Watched from a session of its own: inside the blocker's open transaction pg_stat_activity
    // is read once and kept, so a session that connected after that read is never seen.
    const observer = new pg.Client({ connectionString: PG_URL });
    await observer.connect();
    defer(() => observer.end());
    /** The first session waiting on a lock that `pid` holds. */
    const waiterOf = async (pid: number) =>
      (
        await observer.query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)) LIMIT 1',
          [pid],
        )
      ).rows[0]?.pid;

    const claiming = store.runClaim(claimParams({ now: at(2) }));
    const claimPid = await pollUntil(async () => waiterOf(await pidOf(blocker)), {
      what: 'the claim to wait for the item lock',
    });
    const cancelling = store.runCancel({
      id: run.id,
      mode: 'force',
      reason: null,
      requestedBy: 'alice',
      now: at(3),
    });
    // Either the cancel finishes at once (the claim already committed) or it waits too.
    let cancelSettled = false;
    const settle = () => {
      cancelSettled = true;
    };
    cancelling.then(settle, settle);
    await pollUntil(async () => cancelSettled || (await waiterOf(claimPid)) !== undefined, {
      what: 'the cancel to finish or to wait behind the claim',
    });
    await blocker.query('COMMIT');

    const [claimed] = await claiming;
    expect(claimed).toMatchObject({ id: run.id, attempt: 2 });
    // The item that succeeded makes the stop partial; the one that was running is gone, never
    // shown as this attempt's cancelled item.
    const { run: cancelled } = await cancelling;
    expect(cancelled.status).toBe('partial');
    expect(cancelled.items).toEqual([{ key: 'a', status: 'succeeded' }]);
  });
});
