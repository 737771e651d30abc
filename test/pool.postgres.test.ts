/**
 * PostgreSQL's connection pool under a burst: requests beyond the pool wait in order for a
 * connection instead of failing at the connect time-out, and a full queue is refused at once with
 * STORE_UNAVAILABLE (the API's 503), never a raw driver error.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { insertParams } from '../src/store/conformance/fixture.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { PG_URL, freshSchema, makePostgresStore, postgresReachable } from './helpers/postgres.js';

const reachable = await postgresReachable();

const defer = cleanupAfterEach();

describe.skipIf(!reachable)('PostgreSQL pool under a burst', () => {
  it('a burst of creates far larger than the pool waits for connections and every create lands', async () => {
    // Two connections and a short connect time-out: the driver's own queue failed such a burst.
    const { store, cleanup } = await makePostgresStore({
      notify: false,
      poolSize: 2,
      connectionTimeoutMs: 200,
    });
    defer(cleanup);
    const results = await Promise.allSettled(
      Array.from({ length: 2000 }, () => store.runInsert(insertParams())),
    );
    const failures = results.filter((r) => r.status === 'rejected');
    expect(failures.map((f) => String(f.reason)).slice(0, 3)).toEqual([]);
    expect(await store.runCount({ limit: 10_000 })).toBe(2000);
  });

  it('beyond the waiting limit a request is refused at once with STORE_UNAVAILABLE', async () => {
    const { store, cleanup } = await makePostgresStore({
      notify: false,
      poolSize: 1,
      maxWaiting: 5,
    });
    defer(cleanup);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => store.runInsert(insertParams())),
    );
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    // One holds the connection and five wait: those land, the other 14 are refused.
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(6);
    expect(refused).toHaveLength(14);
    for (const err of refused) {
      expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(String((err as Error).message)).toMatch(/busy: 5 requests are already waiting/);
    }
  });

  it('a script that used the store and never closed it still exits: idle connections hold no process', async () => {
    const schema = freshSchema();
    const script = `
      import { PostgresStore } from './src/store/postgres/postgres-store.ts';
      const store = new PostgresStore({ connectionString: ${JSON.stringify(PG_URL)}, schema: '${schema}', notify: false });
      await store.migrate();
      await store.dropSchema();
      console.log('done');
    `;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: join(import.meta.dirname, '..'),
      },
    );
    defer(() => void child.kill());
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    // The pool's idle time-out is 30 s: an exit well before it is the pool letting go.
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(out).toContain('done');
    expect(code).toBe(0);
  }, 20_000);
});
