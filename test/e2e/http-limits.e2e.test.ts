/**
 * The HTTP server's limits over real sockets: a client that drips its request body is cut off
 * after the request time-out, while an event stream (a long response, not a slow request) stays.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/jobs/define.js';
import { deferred } from '../helpers/deck.js';
import { pollUntil } from '../helpers/poll.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import {
  createRun,
  eventRunId,
  openEvents,
  openRawEvents,
  quickJob,
  waitForStatus,
  type EventStream,
} from './support.js';

const QUICK = 'e2e.limits.quick';
const BULKY = 'e2e.limits.bulky';

/** Each of its runs streams three log events that carry its half-megabyte input. */
const bulkyJob = defineJob({
  name: BULKY,
  maxAttempts: 1,
  input: z.object({ blob: z.string() }),
  run: (ctx, input) => {
    for (let i = 0; i < 3; i++) ctx.log.info(input.blob);
    return null;
  },
});
const REQUEST_TIMEOUT_MS = 1000;

let server: TestServer;
const streams: EventStream[] = [];
beforeAll(async () => {
  server = await startTestServer([quickJob(QUICK), bulkyJob], {
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    // A client that reads nothing for 2 s is cut off (the default is 10 s).
    sse: { stallMs: 2000 },
  });
});
afterAll(async () => {
  await Promise.all(streams.map((s) => s.close()));
  await server.close();
});

/**
 * A socket that sends the headers of a 1,000-byte body, then one byte every `everyMs`; resolves
 * `closed` with what the server answered when the server closes the connection.
 */
function drip(everyMs: number): { closed: Promise<string>; stop: () => void } {
  const { port } = new URL(server.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  const closed = deferred<string>();
  let answer = '';
  const timer = setInterval(() => socket.write('x'), everyMs);
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (answer += chunk));
  socket.on('error', () => {}); // a reset by the server ends the socket like a close
  socket.on('close', () => {
    clearInterval(timer);
    closed.resolve(answer);
  });
  socket.write(
    [
      `POST /api/jobs/${QUICK}/runs HTTP/1.1`,
      `host: 127.0.0.1:${port}`,
      `authorization: Bearer ${TEST_TOKENS.alice}`,
      'content-type: application/json',
      'content-length: 1000',
      '',
      '',
    ].join('\r\n'),
  );
  return {
    closed: closed.promise,
    stop: () => {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

describe('slow requests', () => {
  it('connections dripping a body byte at a time are closed; an event stream opened before stays', async () => {
    const stream = openEvents(server, { job: QUICK });
    streams.push(stream);
    await stream.opened;

    // Each byte arrives well within any idle time-out: only the request time-out can end them.
    const drips = Array.from({ length: 5 }, () => drip(REQUEST_TIMEOUT_MS / 10));
    let deadline: NodeJS.Timeout | undefined;
    try {
      const answers = await Promise.race([
        Promise.all(drips.map((d) => d.closed)),
        new Promise<'still open'>((resolve) => {
          deadline = setTimeout(() => resolve('still open'), 20 * REQUEST_TIMEOUT_MS);
        }),
      ]);
      expect(answers).not.toBe('still open');
      for (const answer of answers as string[]) expect(answer).toMatch(/^(HTTP\/1.1 408|$)/);
    } finally {
      clearTimeout(deadline);
      for (const d of drips) d.stop();
    }

    // The stream outlived the request time-out and still carries events.
    const run = await createRun(server, QUICK, {});
    await stream.waitFor(
      (e) => e.name === 'run.finished' && eventRunId(e) === run.id,
      'run.finished',
    );
  });
});

describe('slow event-stream clients', () => {
  it('a client that stops reading is cut off instead of being buffered for without bound', async () => {
    const stream = openRawEvents(server, `?job=${BULKY}`);
    await pollUntil(() => stream.received > 0, { what: 'the stream to open' });
    stream.socket.pause();

    // Far more than the stream may hold for one client, plus what the kernel's buffers take.
    const blob = 'x'.repeat(500 * 1024);
    let sent = 0;
    try {
      await pollUntil(
        async () => {
          if (server.output().includes('event stream closed: the client does not keep up'))
            return true;
          const run = await createRun(server, BULKY, { input: { blob } });
          sent += 3 * blob.length;
          await waitForStatus(server, run.id, 'completed');
          return false;
        },
        { timeoutMs: 60_000, what: 'the server to give up on the stream' },
      );
    } finally {
      stream.socket.resume();
    }
    await stream.closed;
    expect(stream.received).toBeLessThan(sent);
  }, 90_000);
});
