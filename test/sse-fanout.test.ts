/**
 * 1,000 event-stream clients on one server (real HTTP on a real port, a real SQLite file): every
 * client receives every event of a run, in the store's order; a client that stops reading is cut
 * off while the others go on receiving, and the server holds no stream once the clients close.
 * Streams without a filter, which share one text per batch, and a resumed one match the store too.
 *
 * GET /api/runs latency meanwhile and the RSS growth are printed, not held to their targets (p99
 * under 100 ms, under 100 MB): here the clients share the server's process and cores, and
 * `npm run bench -- --only sse` measures a server in a process of its own.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { probeGets, type ProbeResult } from '../bench/lib/probe.js';
import { latencySummary } from '../bench/lib/stats.js';
import { toStreamEvent } from '../src/api/sse.js';
import { defineJob } from '../src/jobs/define.js';
import {
  createRun,
  eventRunId,
  openEvents,
  openRawEvents,
  waitForStatus,
  type EventStream,
} from './e2e/support.js';
import { EVENT_DEADLINE_MS, pollUntil } from './helpers/poll.js';
import { TEST_TOKENS, startTestServer, type TestServer } from './helpers/server.js';

const CLIENTS = 1000;
/** Streams opened at once: fewer than the listen backlog, so no connection waits on a SYN retry. */
const OPEN_WAVE = 100;
/** GET /api/runs requests timed while the streams are open. */
const PROBES = 200;
const CHATTY = 'fanout.chatty';
const BULKY = 'fanout.bulky';
const CUT_OFF = 'event stream closed: the client does not keep up';

/** A run of `steps` progress reports and log lines, back to back. */
const chattyJob = defineJob({
  name: CHATTY,
  maxAttempts: 1,
  input: z.object({ steps: z.number().int().min(1) }),
  run(ctx, input) {
    for (let i = 1; i <= input.steps; i++) {
      ctx.progress({ processed: i, total: input.steps });
      ctx.log.info(`step ${i}`, { i });
    }
    return { steps: input.steps };
  },
});

/** Four log lines of `kb` KiB each: far more than a client may leave unread. */
const bulkyJob = defineJob({
  name: BULKY,
  maxAttempts: 1,
  input: z.object({ kb: z.number().int().min(1) }),
  run(ctx, input) {
    const line = 'x'.repeat(input.kb * 1024);
    for (let i = 0; i < 4; i++) ctx.log.info(line);
    return null;
  },
});

/** The most files this process may open (Node raises its soft limit to the hard one at start). */
function openFilesLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const value = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
  return value === undefined || value === 'unlimited' ? Number.POSITIVE_INFINITY : Number(value);
}

function rssMb(): number {
  return process.memoryUsage.rss() / 2 ** 20;
}

/** Event streams open on the server, from its own /metrics. */
async function openStreams(): Promise<number> {
  const res = await server.request('GET', '/metrics', { token: TEST_TOKENS.viewer });
  const value = /^jobdeck_event_streams (\d+)$/m.exec(res.body as string)?.[1];
  expect(value, 'jobdeck_event_streams in /metrics').toBeDefined();
  return Number(value);
}

let server: TestServer;
const clients: EventStream[] = [];
beforeAll(async () => {
  // Both ends of every stream live in this process.
  const needed = 2 * CLIENTS + 200;
  expect(
    openFilesLimit(),
    `${CLIENTS} streams need ${needed} open files here; raise the hard limit (ulimit -Hn)`,
  ).toBeGreaterThanOrEqual(needed);
  server = await startTestServer([chattyJob, bulkyJob], { sse: { stallMs: 300 } });
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server?.close();
});

/** The run's events as the store ordered them and streams send them: [id, name] pairs. */
async function storedEventsOf(runId: string): Promise<[string, string][]> {
  const page = await server.deck.store.eventList({ afterSeq: 0, limit: 100_000 });
  return page.events
    .filter((event) => event.runId === runId && toStreamEvent(event).text !== null)
    .map((event) => [String(event.seq), event.name]);
}

/** Every client has the run's run.finished; then each got exactly the store's events, in order. */
async function expectEveryClientGot(runId: string, streams: EventStream[]): Promise<void> {
  const finished = (client: EventStream) =>
    client.events.some((e) => e.name === 'run.finished' && eventRunId(e) === runId);
  await pollUntil(() => streams.every(finished), {
    what: `run.finished of ${runId} on every client (${streams.filter(finished).length} of ${streams.length} so far)`,
    timeoutMs: EVENT_DEADLINE_MS,
    intervalMs: 50,
  });
  const expected = await storedEventsOf(runId);
  expect(expected.at(-1)?.[1]).toBe('run.finished');
  for (const [index, client] of streams.entries()) {
    const got = client.events.filter((e) => eventRunId(e) === runId).map((e) => [e.id, e.name]);
    expect(got, `client ${index}`).toEqual(expected);
  }
}

it(`${CLIENTS} streams all receive a run's events in order; one that stops reading is cut off while the others go on`, async () => {
  const rssBefore = rssMb();
  for (let opened = 0; opened < CLIENTS; opened += OPEN_WAVE) {
    const wave = Array.from({ length: Math.min(OPEN_WAVE, CLIENTS - opened) }, () =>
      openEvents(server, { job: CHATTY }),
    );
    clients.push(...wave);
    await Promise.all(wave.map((client) => client.opened));
  }
  // The stalling client follows the bulky job only, so the others are not sent megabytes each.
  const stalled = openRawEvents(server, `?job=${BULKY}`);
  await pollUntil(() => stalled.received > 0, { what: 'the stalling stream to open' });
  expect(await openStreams()).toBe(CLIENTS + 1);

  // A dashboard reads the API all along: one GET /api/runs every 50 ms, as the benchmark does.
  const probing: Promise<ProbeResult> = probeGets(`${server.url}/api/runs`, {
    token: TEST_TOKENS.viewer,
    count: PROBES,
    intervalMs: 50,
    // Far above any target: only an API that stopped answering fails here.
    timeoutMs: 30_000,
  });

  const first = await createRun(server, CHATTY, { input: { steps: 10 } });
  await expectEveryClientGot(first.id, clients);

  stalled.socket.pause();
  let sent = 0;
  try {
    // Runs go on while the client stalls: the others receive them whole.
    const during = await createRun(server, CHATTY, { input: { steps: 10 } });
    await pollUntil(
      async () => {
        if (server.output().includes(CUT_OFF)) return true;
        const run = await createRun(server, BULKY, { input: { kb: 256 } });
        sent += 4 * 256 * 1024;
        await waitForStatus(server, run.id, 'completed');
        return false;
      },
      { timeoutMs: EVENT_DEADLINE_MS, what: 'the server to cut the stalled stream off' },
    );
    await expectEveryClientGot(during.id, clients);
  } finally {
    stalled.socket.resume();
  }
  await stalled.closed;
  expect(stalled.received).toBeLessThan(sent);
  expect(await openStreams()).toBe(CLIENTS);
  expect(server.output().split(CUT_OFF).length - 1).toBe(1);

  const after = await createRun(server, CHATTY, { input: { steps: 10 } });
  await expectEveryClientGot(after.id, clients);
  expect(clients.every((client) => client.events.every((e) => e.name !== 'reset'))).toBe(true);

  const probe = await probing;
  const rssGrowth = rssMb() - rssBefore;
  const latency = latencySummary(probe.latenciesMs);
  console.log(
    `${CLIENTS} streams: GET /api/runs p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms, ` +
      `max ${latency.max.toFixed(1)} ms over ${latency.count} requests; RSS +${rssGrowth.toFixed(1)} MB ` +
      `(server and clients in this process)`,
  );
  // Sanity bounds only, far above the targets: the figures that count come from the benchmark.
  expect(probe.failures).toEqual([]);
  expect(latency.count).toBe(PROBES);
  expect(rssGrowth).toBeLessThan(1024);

  await Promise.all(clients.splice(0).map((client) => client.close()));
  await pollUntil(async () => (await openStreams()) === 0, {
    what: 'every event stream of the server to close',
  });
}, 120_000);

it('streams without a filter get every event in the store order, also after resuming', async () => {
  const live = Array.from({ length: 100 }, () => openEvents(server, {}));
  clients.push(...live);
  await Promise.all(live.map((client) => client.opened));
  const first = await createRun(server, CHATTY, { input: { steps: 20 } });
  const second = await createRun(server, CHATTY, { input: { steps: 20 } });
  const finishedBoth = (client: EventStream) =>
    [first.id, second.id].every((id) =>
      client.events.some((e) => e.name === 'run.finished' && eventRunId(e) === id),
    );
  await pollUntil(() => live.every(finishedBoth), {
    what: 'both runs to finish on every stream',
    timeoutMs: EVENT_DEADLINE_MS,
  });
  // Resumed from the middle of the first run: what it missed from the store, then live.
  const resumeFrom = live[0]!.events[3]!.id!;
  const resumed = openEvents(server, {}, { lastEventId: resumeFrom });
  clients.push(resumed);
  await resumed.opened;
  const third = await createRun(server, CHATTY, { input: { steps: 20 } });
  const finishedThird = (client: EventStream) =>
    client.events.some((e) => e.name === 'run.finished' && eventRunId(e) === third.id);
  await pollUntil(() => [...live, resumed].every(finishedThird), {
    what: 'the third run to finish on every stream',
    timeoutMs: EVENT_DEADLINE_MS,
  });

  const page = await server.deck.store.eventList({ afterSeq: 0, limit: 100_000 });
  const stored = page.events
    .filter((event) => toStreamEvent(event).text !== null)
    .map((event) => [String(event.seq), event.name]);
  // What a stream should have: every stored event after `afterId`, up to its last one.
  const expectedAfter = (afterId: number, count: number) =>
    stored.filter(([seq]) => Number(seq) > afterId).slice(0, count);
  const opening = Number(live[0]!.events[0]!.id) - 1;
  for (const [index, client] of [...live, resumed].entries()) {
    const got = client.events.map((e) => [e.id, e.name]);
    const after = client === resumed ? Number(resumeFrom) : opening;
    expect(got, `stream ${index}`).toEqual(expectedAfter(after, got.length));
  }
  expect(resumed.events.some((e) => eventRunId(e) === first.id)).toBe(true);
  await Promise.all(clients.splice(0).map((client) => client.close()));
});
