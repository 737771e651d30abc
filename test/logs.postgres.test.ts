/**
 * What an instance logs when PostgreSQL drops one of its connections: a safe summary of the error
 * (type, code, message, stack), never the pg client the pool attaches to it (host, database, user,
 * prepared SQL, the backend's cancel key).
 */
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, startInstance } from '../src/cli/instance.js';
import type { Jobdeck } from '../src/jobdeck.js';
import { pollUntil } from './helpers/poll.js';
import { PG_URL, freshSchema, postgresReachable } from './helpers/postgres.js';

const reachable = await postgresReachable();

describe.skipIf(!reachable)('store connection errors in the logs (PostgreSQL)', () => {
  let deck: Jobdeck | undefined;
  const schema = freshSchema();
  afterEach(async () => {
    await deck?.close({ graceMs: 100 });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  it('a terminated pool connection is logged as a summary: type, code, message, stack', async () => {
    let output = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        output += chunk.toString();
        done();
      },
    });
    const logger = createLogger('jobdeck-test', sink);
    const appName = `jdlog_${schema}`;
    const url = `${PG_URL}?schema=${schema}&notify=false&application_name=${appName}`;
    deck = await startInstance({ db: url, worker: false }, logger);
    await deck.runs.ping(); // leaves an idle client in the pool

    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [appName],
      );
    } finally {
      await admin.end();
    }

    const line = await pollUntil(
      () =>
        output
          .split('\n')
          .filter(Boolean)
          .map((text) => JSON.parse(text) as { msg: string; err?: Record<string, unknown> })
          .find((entry) => entry.msg === 'store connection error'),
      { timeoutMs: 20_000, what: 'a store connection error in the log' },
    );
    expect(line.err).toMatchObject({ type: expect.any(String), message: expect.any(String) });
    const allowed = ['type', 'code', 'message', 'stack', 'cause'];
    expect(Object.keys(line.err!).filter((key) => !allowed.includes(key))).toEqual([]);
    for (const secret of ['secretKey', 'processID', 'search_path', 'connectionString', appName])
      expect(output).not.toContain(secret);
  });
});
