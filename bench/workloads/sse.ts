import { fileURLToPath } from 'node:url';
import { JOBDECK_SYSTEMS, type SystemName } from '../adapters/types.js';
import { forkScript, type ForkedScript } from '../lib/child-process.js';
import { rssMb } from '../lib/machine.js';
import { probeGets } from '../lib/probe.js';
import type { ResultRow, WorkloadContext } from '../lib/results.js';
import { latencySummary, summarize, waitFor } from '../lib/stats.js';
import { startApiServer } from './api.js';

const CLIENTS = fileURLToPath(new URL('../sse-clients.ts', import.meta.url));

/** Why the peers have no figure: none of them serves an event stream over HTTP. */
const NO_STREAM: Partial<Record<SystemName, string>> = {
  bullmq:
    'no event stream over HTTP: QueueEvents reads Redis streams inside a Node process; serving them to browsers is left to the application',
  'pg-boss':
    "no event stream over HTTP: its events ('wip', 'monitor-states', errors) are emitted in-process, and runs report no progress",
  'graphile-worker':
    'no event stream over HTTP: its events (job:start, job:success…) are an in-process EventEmitter',
};

interface ClientsReady {
  opened: number;
  refused: number;
}

interface Counts {
  type: 'counts';
  events: number;
  bytes: number;
  finishedMin: number;
  finishedMax: number;
  closed: number;
}

function countsOf(clients: ForkedScript<ClientsReady>): Promise<Counts> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Counts) => {
      if (message.type !== 'counts') return;
      clearTimeout(timer);
      clients.process.off('message', onMessage);
      resolve(message);
    };
    const timer = setTimeout(() => {
      clients.process.off('message', onMessage);
      reject(new Error('the SSE clients did not answer within 10 s'));
    }, 10_000);
    clients.process.on('message', onMessage);
    clients.process.send({ type: 'count' });
  });
}

interface Repeat {
  p50: number;
  p99: number;
  /** The same flow and probe before any client connected. */
  idleP50: number;
  idleP99: number;
  rssGrowth: number;
  eventsPerS: number;
  notes: string[];
}

async function oneRepeat(ctx: WorkloadContext, system: SystemName): Promise<Repeat> {
  const sizes = ctx.sizes;
  const server = await startApiServer(ctx, system, { worker: true });
  let clients: ForkedScript<ClientsReady> | null = null;
  const notes: string[] = [];
  try {
    const { port, token } = server.info;
    const base = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const createRun = async (): Promise<string> => {
      const res = await fetch(`${base}/api/jobs/bench.chatty/runs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ input: { steps: sizes.sseRunSteps, stepMs: sizes.sseStepMs } }),
      });
      const body = (await res.json()) as { run: { id: string } };
      if (res.status !== 202) throw new Error(`create answered ${res.status}`);
      return body.run.id;
    };
    const finished = async (id: string) => {
      const res = await fetch(`${base}/api/runs/${id}`, { headers });
      const { run } = (await res.json()) as { run: { status: string } };
      return ['completed', 'failed', 'cancelled'].includes(run.status);
    };

    // Runs keep flowing while the API is probed: every client is sent every one of their events.
    const created: string[] = [];
    let createErrors = 0;
    const withRunsFlowing = async <T>(measure: () => Promise<T>): Promise<T> => {
      const creating: Promise<void>[] = [];
      const flow = setInterval(() => {
        creating.push(
          createRun().then(
            (id) => void created.push(id),
            () => void createErrors++,
          ),
        );
      }, 1000 / sizes.sseRunsPerS);
      try {
        return await measure();
      } finally {
        clearInterval(flow);
        await Promise.all(creating);
      }
    };
    const probe = () =>
      probeGets(`${base}/api/runs`, {
        token,
        count: sizes.sseProbeRequests,
        intervalMs: sizes.sseProbeIntervalMs,
      });

    // Warm-up (JIT, prepared statements), then the same flow and probe without clients: the
    // baseline that tells the clients' cost from the machine's.
    const warm = await Promise.all([createRun(), createRun()]);
    if (
      !(await waitFor(async () => (await Promise.all(warm.map(finished))).every(Boolean), 30_000))
    )
      throw new Error('the warm-up runs did not finish within 30 s');
    const rssWarm = rssMb(server.pid);
    const baseline = await withRunsFlowing(probe);
    // The lower of the two: garbage the baseline left must not pass for memory the clients freed.
    const rssBefore = Math.min(rssWarm, rssMb(server.pid));

    clients = await forkScript<ClientsReady>(CLIENTS, {
      port,
      token,
      clients: sizes.sseClients,
    });
    const { opened, refused } = clients.ready;
    if (refused > 0) notes.push(`${refused} of ${sizes.sseClients} streams refused`);
    const rssOpen = rssMb(server.pid);
    const runsBefore = created.length;

    const measured = await withRunsFlowing(async () => {
      const start = await countsOf(clients!);
      const t0 = performance.now();
      const loaded = await probe();
      const end = await countsOf(clients!);
      return {
        start,
        end,
        loaded,
        seconds: (performance.now() - t0) / 1000,
        rss: rssMb(server.pid),
      };
    });
    const { start, end, loaded, seconds } = measured;
    const runs = created.length - runsBefore;

    // Did every client get every run's end? (A dropped client would not.)
    let last = end;
    await waitFor(async () => {
      last = await countsOf(clients!);
      return last.finishedMin >= runs;
    }, 30_000);
    const latency = latencySummary(loaded.latenciesMs);
    const idle = latencySummary(baseline.latenciesMs);
    const eventsPerS = (end.events - start.events) / seconds;
    notes.push(
      `${opened} streams; ${runs} runs in ${seconds.toFixed(1)} s; run.finished per client ${last.finishedMin}–${last.finishedMax} of ${runs}; ${last.closed} streams closed by the server; RSS ${rssBefore.toFixed(0)} MB before the clients, ${rssOpen.toFixed(0)} with them open, ${measured.rss.toFixed(0)} at the end`,
    );
    const failures = [...baseline.failures, ...loaded.failures];
    if (failures.length)
      notes.push(`${failures.length} GETs failed: ${[...new Set(failures)].join(', ')}`);
    if (createErrors) notes.push(`${createErrors} run creates failed`);
    ctx.log(
      `  ${system}: GET /api/runs p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms (without clients: ${idle.p50.toFixed(1)}, ${idle.p99.toFixed(1)}); RSS +${(measured.rss - rssBefore).toFixed(1)} MB; ${eventsPerS.toFixed(0)} events/s delivered`,
    );
    return {
      p50: latency.p50,
      p99: latency.p99,
      idleP50: idle.p50,
      idleP99: idle.p99,
      rssGrowth: measured.rss - rssBefore,
      eventsPerS,
      notes,
    };
  } finally {
    await clients?.close();
    await server.close();
  }
}

/**
 * Workload 8: many event-stream clients on one instance (API and worker, a process of its own)
 * while runs report progress and logs; meanwhile the API's GET /api/runs latency (and the same
 * without clients, as a baseline), the server's RSS growth and the events delivered to all clients
 * per second.
 */
export async function sseWorkload(ctx: WorkloadContext): Promise<ResultRow[]> {
  const n = ctx.sizes.sseClients;
  const variant = `${n.toLocaleString('en-US')} clients`;
  const rows: ResultRow[] = [];
  for (const system of ctx.systems) {
    const row = (
      metric: string,
      unit: string,
      better: ResultRow['better'],
      values: number[] | null,
      more: Partial<ResultRow> = {},
    ): ResultRow => ({
      workload: 'sse',
      system,
      variant,
      compareKey: 'sse',
      metric,
      unit,
      better,
      summary: values && summarize(values),
      ...more,
    });
    if (!JOBDECK_SYSTEMS.includes(system)) {
      const unsupported = NO_STREAM[system] ?? 'no event stream over HTTP';
      rows.push(row('GET /api/runs p99', 'ms', 'lower', null, { unsupported }));
      continue;
    }
    ctx.log(`sse: ${system} (${variant}, ${ctx.sizes.sseRunsPerS} runs/s)`);
    const repeats: Repeat[] = [];
    for (let i = 0; i < ctx.repeats; i++) repeats.push(await oneRepeat(ctx, system));
    const note = repeats.map((r, i) => `#${i + 1}: ${r.notes.join('; ')}`).join(' / ');
    const of = (key: Exclude<keyof Repeat, 'notes'>) => repeats.map((r) => r[key]);
    const baseline = { variant: 'no clients', compareKey: 'sse baseline' };
    rows.push(
      row('GET /api/runs p50', 'ms', 'lower', of('idleP50'), baseline),
      row('GET /api/runs p99', 'ms', 'lower', of('idleP99'), baseline),
      row('GET /api/runs p50', 'ms', 'lower', of('p50')),
      row('GET /api/runs p99', 'ms', 'lower', of('p99')),
      row('RSS growth', 'MB', 'lower', of('rssGrowth')),
      row('events delivered', 'events/s', 'higher', of('eventsPerS'), { note }),
    );
  }
  return rows;
}
