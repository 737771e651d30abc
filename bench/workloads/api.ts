import autocannon from 'autocannon';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SystemName } from '../adapters/types.js';
import { forkScript } from '../lib/child-process.js';
import { namespace, type ResultRow, type WorkloadContext } from '../lib/results.js';
import { summarize } from '../lib/stats.js';

const SERVER = fileURLToPath(new URL('../api-server.ts', import.meta.url));
export const API_CONNECTIONS = 16;

export interface ServerInfo {
  port: number;
  runId: string;
  token: string;
}

/** bench/api-server.ts in a child process on a fresh store; `worker` makes it execute runs too. */
export async function startApiServer(
  ctx: WorkloadContext,
  system: SystemName,
  options: { worker?: boolean } = {},
) {
  const ns = namespace(ctx, 'api');
  const args =
    system === 'jobdeck-sqlite'
      ? { store: 'sqlite', path: join(ctx.dir, `api-${ns}.db`), worker: options.worker }
      : { store: 'postgres', schema: `bench_api_${ns}`, worker: options.worker };
  const server = await forkScript<ServerInfo>(SERVER, args);
  return { info: server.ready, pid: server.process.pid!, close: server.close };
}

function cannon(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (err: unknown, result) =>
      err ? reject(err instanceof Error ? err : new Error(JSON.stringify(err))) : resolve(result),
    );
  });
}

/**
 * Workload 6: the HTTP API (buildApiServer, in a child process, API-only instance) under
 * autocannon at a fixed number of connections: GET /api/runs/:id and POST /api/jobs/:name/runs.
 */
export async function apiWorkload(ctx: WorkloadContext): Promise<ResultRow[]> {
  const duration = ctx.sizes.apiDurationS;
  const rows: ResultRow[] = [];
  for (const system of ctx.systems.filter((s) => s === 'jobdeck-sqlite' || s === 'jobdeck-pg')) {
    for (const endpoint of ['GET /api/runs/:id', 'POST /api/jobs/:name/runs'] as const) {
      ctx.log(`api: ${system} ${endpoint} (${API_CONNECTIONS} connections, ${duration} s)`);
      const rps: number[] = [];
      const p99: number[] = [];
      let errors = 0;
      let non2xx = 0;
      for (let i = 0; i < ctx.repeats; i++) {
        const server = await startApiServer(ctx, system);
        try {
          const { port, runId, token } = server.info;
          const common = {
            connections: API_CONNECTIONS,
            duration,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          };
          const options: autocannon.Options =
            endpoint === 'GET /api/runs/:id'
              ? { ...common, url: `http://127.0.0.1:${port}/api/runs/${runId}` }
              : {
                  ...common,
                  url: `http://127.0.0.1:${port}/api/jobs/bench.noop/runs`,
                  method: 'POST',
                  body: JSON.stringify({ input: { i: 1 } }),
                };
          // Warm-up: JIT, prepared statements, connections.
          if (ctx.sizes.apiWarmupS > 0)
            await cannon({ ...options, duration: ctx.sizes.apiWarmupS });
          const result = await cannon(options);
          rps.push(result.requests.average);
          p99.push(result.latency.p99);
          errors += result.errors + result.timeouts;
          non2xx += result.non2xx;
          ctx.log(
            `  #${i + 1}: ${result.requests.average.toFixed(0)} req/s, p99 ${result.latency.p99} ms`,
          );
        } finally {
          await server.close();
        }
      }
      const note =
        errors || non2xx
          ? `${errors} errors/timeouts and ${non2xx} non-2xx answers over all repeats`
          : undefined;
      const base = {
        workload: 'api' as const,
        system,
        variant: endpoint,
        compareKey: `api ${endpoint}`,
        ...(note ? { note } : {}),
      };
      rows.push({
        ...base,
        metric: 'requests/s',
        unit: 'req/s',
        better: 'higher',
        summary: summarize(rps),
      });
      rows.push({
        ...base,
        metric: 'latency p99',
        unit: 'ms',
        better: 'lower',
        summary: summarize(p99),
      });
    }
  }
  return rows;
}
