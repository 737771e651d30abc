/**
 * The Jobdeck HTTP API for the API and SSE workloads, in a process of its own:
 *
 *   node --import tsx bench/api-server.ts '<json: { store: "sqlite" | "postgres", path?, schema?, worker? }>'
 *
 * builds the API with buildApiServer on a fresh store, creates one run to read, listens on a free
 * port on 127.0.0.1 and reports `{ type: 'ready', port, runId, token }` over IPC. Without `worker`
 * it is an API-only instance (like `serve --no-worker`); with it, it also executes runs (like
 * `serve`), among them those of `bench.chatty`. Exits when the parent goes away.
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { TokenSet } from '../src/api/auth.js';
import { buildApiServer } from '../src/api/server.js';
import { Jobdeck } from '../src/jobdeck.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { z } from 'zod';
import { defineJob } from '../src/jobs/define.js';
import { PG_URL } from './lib/env.js';

interface Args {
  store: 'sqlite' | 'postgres';
  path?: string;
  schema?: string;
  worker?: boolean;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const TOKEN = 'bench-admin-token-000000000001';
const store =
  args.store === 'sqlite'
    ? new SqliteStore({ path: args.path! })
    : new PostgresStore({ connectionString: PG_URL, schema: args.schema! });
if (store instanceof PostgresStore) await store.dropSchema();
const job = defineJob({
  name: 'bench.noop',
  input: z.object({ i: z.number(), ms: z.number().optional() }),
  run: () => null,
});
/** A run that watchers follow: `steps` steps of `stepMs`, each reporting progress and a log line. */
const chatty = defineJob({
  name: 'bench.chatty',
  maxAttempts: 1,
  input: z.object({ steps: z.number().int().min(1), stepMs: z.number().int().min(0) }),
  async run(ctx, input) {
    for (let i = 1; i <= input.steps; i++) {
      ctx.progress({ processed: i, total: input.steps });
      ctx.log.info(`step ${i} of ${input.steps}`, { step: i });
      await delay(input.stepMs, undefined, { signal: ctx.signal });
    }
    return { steps: input.steps };
  },
});
const deck = await new Jobdeck({
  store,
  jobs: [job, chatty],
  worker: args.worker ? {} : false,
  scheduler: false,
}).start();
const app = await buildApiServer({
  deck,
  tokens: TokenSet.parse(`bench:admin:${TOKEN}`),
  logger: false,
});
await app.listen({ port: 0, host: '127.0.0.1' });
const { run } = await deck.runs.create({ job: job.name, input: { i: 0 } });

process.on('disconnect', () => {
  void (async () => {
    const timer = setTimeout(() => process.exit(0), 3000);
    timer.unref();
    await app.close();
    if (store instanceof PostgresStore) await store.dropSchema().catch(() => {});
    await deck.close();
    process.exit(0);
  })();
});
process.send!({
  type: 'ready',
  port: (app.server.address() as AddressInfo).port,
  runId: run.id,
  token: TOKEN,
});
