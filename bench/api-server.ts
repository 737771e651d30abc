/**
 * The Jobdeck HTTP API for the API workload, in a process of its own:
 *
 *   node --import tsx bench/api-server.ts '<json: { store: "sqlite" | "postgres", path?, schema? }>'
 *
 * builds the API with buildApiServer on a fresh store (an API-only instance: no worker, like
 * `serve --no-worker`), creates one run to read, listens on a free port on 127.0.0.1 and reports
 * `{ type: 'ready', port, runId, token }` over IPC. Exits when the parent goes away.
 */
import type { AddressInfo } from 'node:net';
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
const deck = await new Jobdeck({ store, jobs: [job], worker: false, scheduler: false }).start();
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
