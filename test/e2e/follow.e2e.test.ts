/**
 * The typed client's follow(): the server restarts under an open stream; the client reconnects
 * with its last event id and receives what happened meanwhile — once, in order — then goes on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { JobdeckClient, type ClientEvent } from '../../src/client/client.js';
import { Jobdeck } from '../../src/jobdeck.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { pollUntil } from '../helpers/poll.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import { tempDbPath } from '../helpers/temp.js';
import { createRun, quickJob } from './support.js';

const JOB = 'e2e.follow';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const runIdOf = (e: ClientEvent) =>
  (e.data as { run?: { id: string } }).run?.id ?? (e.data as { runId?: string }).runId;

describe('JobdeckClient.follow', () => {
  it('reconnects after a server restart with its last event id: the gap once, in order, then live', async () => {
    const { path, cleanup } = tempDbPath();
    cleanups.push(cleanup);
    let server: TestServer = await startTestServer([quickJob(JOB)], { dbPath: path });
    cleanups.push(() => server.close());
    const port = Number(new URL(server.url).port);
    const client = new JobdeckClient({ url: server.url, token: TEST_TOKENS.viewer });
    const events: ClientEvent[] = [];
    const stop = new AbortController();
    const following = client.follow({ job: JOB }, (e) => events.push(e), {
      signal: stop.signal,
      retryMs: 50,
    });
    cleanups.push(async () => {
      stop.abort();
      await following;
    });
    const first = await createRun(server, JOB, {});
    await pollUntil(
      () => events.some((e) => e.name === 'run.finished' && runIdOf(e) === first.id),
      {
        what: 'the first run to finish on the stream',
      },
    );

    // The server goes away; meanwhile another process of the application creates a run.
    await server.close();
    const writer = new Jobdeck({
      store: new SqliteStore({ path }),
      jobs: [quickJob(JOB)],
      worker: false,
      scheduler: false,
      maintenance: false,
    });
    await writer.start();
    const missed = (await writer.runs.create({ job: JOB, input: {} })).run;
    await writer.close();

    server = await startTestServer([quickJob(JOB)], { dbPath: path, port });
    await pollUntil(
      () => events.some((e) => e.name === 'run.finished' && runIdOf(e) === missed.id),
      { what: 'the run created while the server was down to be streamed after the reconnect' },
    );
    const ids = events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(events.filter((e) => runIdOf(e) === missed.id).map((e) => e.name)).toEqual([
      'run.created',
      'run.started',
      'run.finished',
    ]);
    expect(events.some((e) => e.name === 'reset')).toBe(false);
  });
});
