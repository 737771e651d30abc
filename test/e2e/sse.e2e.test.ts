/**
 * GET /api/events over real HTTP with a bearer header: a run's events arrive in order with
 * increasing ids (the store's seq), filters by job, run and status hold, and Last-Event-ID resumes
 * from the store — across a restart of the server — or answers a reset when it cannot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/jobs/define.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import { tempDbPath } from '../helpers/temp.js';
import {
  Gates,
  createRun,
  eventRunId,
  closeAndCheckNoTokenLogged,
  expectNoTokenLogged,
  gateJob,
  openEvents,
  quickJob,
  unlessAborted,
  waitForLog,
  waitForStatus,
  type EventStream,
  type StreamEvent,
  rawRequest,
} from './support.js';

const gates = new Gates();
/** One run at a time; reports progress, waits, logs, waits, returns. */
const SSE_JOB = 'e2e.sse';
const OTHER = 'e2e.other';
const GATE = 'e2e.gate';

const sseJob = defineJob({
  name: SSE_JOB,
  maxAttempts: 1,
  concurrency: 1,
  input: z.object({ key: z.string() }),
  async run(ctx, input) {
    const gate = gates.get(input.key);
    gate.entered.resolve();
    ctx.progress({ processed: 1, total: 2, message: 'halfway' });
    await unlessAborted(gate.release.promise, ctx.signal);
    ctx.log.info('hello from the handler', { step: 1 });
    await unlessAborted(gate.release2.promise, ctx.signal);
    return { ok: true };
  },
});

let server: TestServer;
const streams: EventStream[] = [];
beforeAll(async () => {
  server = await startTestServer([sseJob, quickJob(OTHER), gateJob(gates, { name: GATE })]);
});
afterAll(async () => {
  gates.releaseAll();
  await Promise.all(streams.map((s) => s.close()));
  await closeAndCheckNoTokenLogged(server);
});

async function subscribe(
  filter: { job?: string; run?: string; status?: string },
  options: { lastEventId?: string } = {},
): Promise<EventStream> {
  const stream = openEvents(server, filter, options);
  streams.push(stream);
  await stream.opened;
  return stream;
}

/** What the tests read of an event's data (a run, or a log entry with its run id). */
interface EventData {
  /** The status the event recorded. */
  status: string;
  /** The run as stored when the event was read. */
  run: { id: string; status: string; [field: string]: unknown };
  runId?: string;
  entry?: unknown;
}

const ofRun = (id: string) => (e: StreamEvent) => eventRunId(e) === id;
const named = (id: string, name: string) => (e: StreamEvent) =>
  e.name === name && eventRunId(e) === id;
/** An event id is the store's seq: it grows across processes and restarts. */
const seqOf = (event: StreamEvent) => Number(event.id);
const ids = (events: StreamEvent[]) => events.map(seqOf);

function expectIncreasing(events: StreamEvent[]): void {
  const list = ids(events);
  for (const id of list) expect(Number.isInteger(id)).toBe(true);
  for (let i = 1; i < list.length; i++) expect(list[i]).toBeGreaterThan(list[i - 1]!);
}

describe('GET /api/events', () => {
  it('closing the server ends open streams instead of waiting for the clients', async () => {
    const other = await startTestServer([quickJob(OTHER)]);
    const stream = openEvents(other, {});
    await stream.opened;
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('still closing after 5 s'), 5000);
    });
    const closed = Promise.all([other.close(), stream.ended]).then(() => 'closed');
    expect(await Promise.race([closed, stuck])).toBe('closed');
    clearTimeout(timer);
    expectNoTokenLogged(other);
  });

  it("delivers a run's events in order, filtered by job and by run; Last-Event-ID replays", async () => {
    const byJob = await subscribe({ job: SSE_JOB });
    const otherJob = await subscribe({ job: OTHER });

    // A first run takes the job's only slot, so the second waits `pending` until it is released.
    const blockerKey = gates.key('blocker');
    const blocker = await createRun(server, SSE_JOB, { input: { key: blockerKey } });
    await gates.get(blockerKey).entered.promise;
    const key = gates.key('target');
    const target = await createRun(server, SSE_JOB, { input: { key } });
    expect(target.status).toBe('pending');
    await byJob.waitFor(named(target.id, 'run.created'), 'run.created of the target');
    const byRun = await subscribe({ run: target.id });

    gates.get(blockerKey).release.resolve();
    gates.get(blockerKey).release2.resolve();
    const gate = gates.get(key);
    await byJob.waitFor(named(target.id, 'run.progress'), 'run.progress');
    gate.release.resolve();
    await byJob.waitFor(named(target.id, 'run.log'), 'run.log');
    gate.release2.resolve();
    await byJob.waitFor(named(target.id, 'run.finished'), 'run.finished');
    await byRun.waitFor(named(target.id, 'run.finished'), 'run.finished on the run stream');

    const seen = byJob.events.filter(ofRun(target.id));
    expect(seen.map((e) => e.name)).toEqual([
      'run.created',
      'run.started',
      'run.progress',
      'run.log',
      'run.finished',
    ]);
    expectIncreasing(byJob.events);
    const [created, started, progress, log, finished] = seen.map((e) => e.data as EventData) as [
      EventData,
      EventData,
      EventData,
      EventData,
      EventData,
    ];
    expect(created).toMatchObject({ status: 'pending', run: { id: target.id, job: SSE_JOB } });
    expect(started).toMatchObject({ status: 'running', run: { id: target.id, attempt: 1 } });
    expect(progress).toMatchObject({ status: 'running', run: { id: target.id } });
    // The run as stored when the event was read: the progress is there by then.
    expect(progress.run.progress).toMatchObject({ processed: 1, total: 2, message: 'halfway' });
    expect(log).toMatchObject({
      runId: target.id,
      job: SSE_JOB,
      entry: { level: 'info', message: 'hello from the handler', data: { step: 1 } },
    });
    expect(finished).toMatchObject({
      status: 'completed',
      run: { id: target.id, status: 'completed' },
    });
    // Events carry state, not payloads: input and result are read from the run.
    expect(finished.run).not.toHaveProperty('result');
    expect(created.run).not.toHaveProperty('input');
    // The job stream saw the blocker too, and nothing of other jobs.
    expect(byJob.events.some(ofRun(blocker.id))).toBe(true);
    for (const event of byJob.events) {
      const data = event.data as { run?: { job: string }; job?: string };
      expect(data.run?.job ?? data.job).toBe(SSE_JOB);
    }

    // The run stream, opened while the target waited, has everything of it from its start on.
    expect(byRun.events.map((e) => e.name)).toEqual([
      'run.started',
      'run.progress',
      'run.log',
      'run.finished',
    ]);
    expect(ids(byRun.events)).toEqual(ids(seen.slice(1)));
    expect(byRun.events.every(ofRun(target.id))).toBe(true);

    // The stream of another job got none of this: once it has a later event of its own job,
    // anything sent before would have arrived first.
    const other = await createRun(server, OTHER, {});
    await otherJob.waitFor(named(other.id, 'run.finished'), 'run.finished of the other job');
    expect(otherJob.events.length).toBeGreaterThan(0);
    for (const event of otherJob.events) {
      expect(eventRunId(event)).toBe(other.id);
      expect(seqOf(event)).toBeGreaterThan(seqOf(seen[4]!));
    }
    expect(byJob.events.some(ofRun(other.id))).toBe(false);

    // Resume after run.started: what followed is replayed, same ids, then the stream goes on live.
    const resumed = await subscribe({ job: SSE_JOB }, { lastEventId: seen[1]!.id! });
    await resumed.waitFor(named(target.id, 'run.finished'), 'the replayed run.finished');
    const expected = byJob.events.filter((e) => seqOf(e) > seqOf(seen[1]!));
    expect(resumed.events.slice(0, expected.length).map((e) => [e.id, e.name])).toEqual(
      expected.map((e) => [e.id, e.name]),
    );
    expect(resumed.events.slice(0, expected.length).map((e) => e.data)).toEqual(
      expected.map((e) => e.data),
    );
    const next = await createRun(server, SSE_JOB, { input: { key: gates.key('next') } });
    await resumed.waitFor(named(next.id, 'run.created'), 'a live event after the replay');
    expectIncreasing(resumed.events);

    // Resume on a run filter: only that run's missed events.
    const byRunResumed = await subscribe({ run: target.id }, { lastEventId: seen[0]!.id! });
    await byRunResumed.waitFor(named(target.id, 'run.finished'), 'the replayed run.finished');
    expect(byRunResumed.events.map((e) => e.id)).toEqual(seen.slice(1).map((e) => e.id));
    gates.get(next.input.key).release.resolve();
    gates.get(next.input.key).release2.resolve();
  });

  it('a graceful cancel streams run.cancelling, then run.finished cancelled', async () => {
    const key = gates.key('cancel');
    const stream = await subscribe({ job: GATE });
    const run = await createRun(server, GATE, { input: { key } });
    await gates.get(key).entered.promise;
    const res = await server.request('POST', `/api/runs/${run.id}/cancel`, {
      token: TEST_TOKENS.alice,
      body: { mode: 'graceful', reason: 'enough' },
    });
    expect(res.status).toBe(200);
    const cancelling = await stream.waitFor(named(run.id, 'run.cancelling'), 'run.cancelling');
    expect(cancelling.data).toMatchObject({
      status: 'cancelling',
      run: { cancel: { mode: 'graceful', reason: 'enough', requestedBy: 'alice' } },
    });
    await waitForLog(server, run.id, 'cancel delivered');
    gates.get(key).release.resolve();
    const finished = await stream.waitFor(named(run.id, 'run.finished'), 'run.finished');
    expect((finished.data as EventData).status).toBe('cancelled');
    const names = stream.events.filter(ofRun(run.id)).map((e) => e.name);
    expect(names.indexOf('run.cancelling')).toBeGreaterThan(names.indexOf('run.started'));
    expect(names.at(-1)).toBe('run.finished');
    expectIncreasing(stream.events);
  });

  it('after a restart, Last-Event-ID resumes every missed event once, in order; ids it cannot resume get a reset', async () => {
    const { path, cleanup } = tempDbPath();
    const before = await startTestServer([quickJob(OTHER)], { dbPath: path });
    let after: TestServer | undefined;
    try {
      const old = openEvents(before, { job: OTHER });
      await old.opened;
      const first = await createRun(before, OTHER, {});
      const lastSeen = await old.waitFor(named(first.id, 'run.finished'), 'run.finished before');
      await old.close();
      // Missed while disconnected: three more runs, then the server restarts.
      const missed = [];
      for (let i = 0; i < 3; i++) missed.push(await createRun(before, OTHER, {}));
      for (const run of missed) await waitForStatus(before, run.id, 'completed');
      await before.close();

      after = await startTestServer([quickJob(OTHER)], { dbPath: path });
      const resumed = openEvents(after, { job: OTHER }, { lastEventId: lastSeen.id! });
      await resumed.opened;
      const next = await createRun(after, OTHER, {});
      await resumed.waitFor(named(next.id, 'run.finished'), 'a live event after the replay');
      // The gap: every event of the missed runs, once and in order, then the live ones.
      const missedIds = new Set(missed.map((r) => r.id));
      const replayed = resumed.events.filter((e) => missedIds.has(eventRunId(e) ?? ''));
      expect(replayed.map((e) => e.name)).toEqual(
        missed.flatMap(() => ['run.created', 'run.started', 'run.finished']),
      );
      expect(resumed.events.every((e) => e.name !== 'reset')).toBe(true);
      expectIncreasing(resumed.events);
      expect(seqOf(resumed.events[0]!)).toBeGreaterThan(seqOf(lastSeen));
      expect(new Set(resumed.events.map((e) => e.id)).size).toBe(resumed.events.length);

      // An id this database never gave out, or garbage: a reset, then live events.
      for (const id of ['999999999', 'not-an-id']) {
        const unknown = openEvents(after, { job: OTHER }, { lastEventId: id });
        await unknown.opened;
        const live = await createRun(after, OTHER, {});
        await unknown.waitFor(named(live.id, 'run.created'), 'a live event after the reset');
        expect(unknown.events[0]).toMatchObject({ name: 'reset', data: { reason: 'unknown' } });
        await unknown.close();
      }

      // Past the retention window: a reset that says so; its id resumes what follows.
      await after.deck.store.eventDeleteExpired({
        now: new Date(Date.now() + 60_000),
        retentionMs: 0,
        limit: 100_000,
      });
      const expired = openEvents(after, { job: OTHER }, { lastEventId: lastSeen.id! });
      await expired.opened;
      const later = await createRun(after, OTHER, {});
      await expired.waitFor(named(later.id, 'run.created'), 'a live event after the reset');
      expect(expired.events[0]).toMatchObject({ name: 'reset', data: { reason: 'expired' } });
      const again = openEvents(after, { job: OTHER }, { lastEventId: expired.events[0]!.id! });
      await again.waitFor(named(later.id, 'run.created'), 'the replay after the reset');
      expect(again.events.every((e) => e.name !== 'reset')).toBe(true);
      await Promise.all([resumed.close(), expired.close(), again.close()]);
    } finally {
      await after?.close();
      cleanup();
    }
  });

  it('filters by status: only events of runs in those statuses', async () => {
    const stream = await subscribe({ job: OTHER, status: 'completed,failed' });
    const run = await createRun(server, OTHER, {});
    const finished = await stream.waitFor(named(run.id, 'run.finished'), 'run.finished');
    expect((finished.data as EventData).status).toBe('completed');
    expect(stream.events.filter(ofRun(run.id)).map((e) => e.name)).toEqual(['run.finished']);
    for (const status of ['sleeping', '']) {
      const bad = await server.request('GET', `/api/events?status=${status}`, {
        token: TEST_TOKENS.viewer,
      });
      expect(bad.status).toBe(400);
    }
  });

  it('signing out ends the streams opened with that session at once; other streams go on', async () => {
    const signedIn = await server.request('POST', '/api/session', {
      token: TEST_TOKENS.viewer,
      headers: { 'x-jobdeck-request': '1' },
    });
    expect(signedIn.status).toBe(200);
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const bySession = openEvents(server, { job: OTHER }, { cookie });
    streams.push(bySession);
    await bySession.opened;
    const byToken = await subscribe({ job: OTHER });

    const signOut = await server.request('DELETE', '/api/session', {
      token: null,
      headers: { cookie, 'x-jobdeck-request': '1' },
    });
    expect(signOut.status).toBe(204);
    await bySession.waitFor((e) => e.name === 'signed-out', 'signed-out');
    await bySession.ended;

    const run = await createRun(server, OTHER, {});
    await byToken.waitFor(named(run.id, 'run.created'), 'run.created on the token stream');
    expect(bySession.events.filter(ofRun(run.id))).toEqual([]);
    const again = openEvents(server, {}, { cookie });
    await expect(again.opened).rejects.toMatchObject({ status: 401 });
  });

  it('answers with an event stream to a bearer token, and 401 without one', async () => {
    const denied = openEvents(server, {}, { token: 'not-a-token-at-all' });
    await expect(denied.opened).rejects.toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    const res = await rawRequest(server, 'GET', '/api/events', {
      authorization: `Bearer ${TEST_TOKENS.viewer}`,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toContain('no-cache');
    expect(res.text).toContain(': connected');
  });
});
