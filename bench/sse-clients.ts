/**
 * Event-stream clients for the SSE workload, in a process of their own, so that reading the
 * streams shares an event loop with neither the server nor the latency probe:
 *
 *   node --import tsx bench/sse-clients.ts '<json: { port, token, clients }>'
 *
 * opens `clients` streams of GET /api/events on plain sockets (a wave at a time, below the listen
 * backlog), reports `{ type: 'ready', opened, refused }` over IPC, then answers each
 * `{ type: 'count' }` with `{ type: 'counts', events, bytes, finishedMin, finishedMax, closed }`.
 * It counts instead of parsing, so the clients cost little CPU. Exits when the parent goes away.
 */
import net from 'node:net';

interface Args {
  port: number;
  token: string;
  clients: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const WAVE = 100;
/** Every streamed event has exactly one such line (data is JSON: its newlines are escaped). */
const EVENT_LINE = Buffer.from('\nevent: ');
const FINISHED_LINE = Buffer.from('\nevent: run.finished\n');
const OK = 'HTTP/1.1 200';

interface Client {
  socket: net.Socket;
  events: number;
  finished: number;
  bytes: number;
  closed: boolean;
  /** The end of the previous chunk, where a line may have been cut in two. */
  tail: Buffer;
}

/** Matches of `pattern` in `data` that end past `from` (those before were counted already). */
function countFrom(data: Buffer, pattern: Buffer, from: number): number {
  let count = 0;
  let at = Math.max(0, from - pattern.length + 1);
  for (;;) {
    at = data.indexOf(pattern, at);
    if (at < 0) return count;
    count++;
    at += pattern.length;
  }
}

function open(): Promise<Client | null> {
  return new Promise((resolve) => {
    const socket = net.connect(args.port, '127.0.0.1');
    const client: Client = {
      socket,
      events: 0,
      finished: 0,
      bytes: 0,
      closed: false,
      tail: Buffer.alloc(0),
    };
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      if (!answered) {
        answered = true;
        if (!chunk.toString('latin1', 0, OK.length).startsWith(OK)) {
          socket.destroy();
          resolve(null);
          return;
        }
        resolve(client);
      }
      client.bytes += chunk.length;
      const data = client.tail.length ? Buffer.concat([client.tail, chunk]) : chunk;
      const from = client.tail.length;
      client.events += countFrom(data, EVENT_LINE, from);
      client.finished += countFrom(data, FINISHED_LINE, from);
      client.tail = Buffer.from(data.subarray(Math.max(0, data.length - FINISHED_LINE.length + 1)));
    });
    socket.on('error', () => {}); // 'close' follows: the client counts as closed
    socket.on('close', () => {
      client.closed = true;
      if (!answered) resolve(null);
    });
    socket.write(
      `GET /api/events HTTP/1.1\r\nhost: 127.0.0.1:${args.port}\r\n` +
        `authorization: Bearer ${args.token}\r\naccept: text/event-stream\r\n\r\n`,
    );
  });
}

const clients: Client[] = [];
let refused = 0;
for (let opened = 0; opened < args.clients; opened += WAVE) {
  const wave = await Promise.all(
    Array.from({ length: Math.min(WAVE, args.clients - opened) }, () => open()),
  );
  for (const client of wave) {
    if (client) clients.push(client);
    else refused++;
  }
}

process.on('message', (message: { type: string }) => {
  if (message.type !== 'count') return;
  let events = 0;
  let bytes = 0;
  let closed = 0;
  let finishedMin = Number.POSITIVE_INFINITY;
  let finishedMax = 0;
  for (const client of clients) {
    events += client.events;
    bytes += client.bytes;
    if (client.closed) closed++;
    finishedMin = Math.min(finishedMin, client.finished);
    finishedMax = Math.max(finishedMax, client.finished);
  }
  process.send!({ type: 'counts', events, bytes, finishedMin, finishedMax, closed });
});
process.on('disconnect', () => {
  for (const client of clients) client.socket.destroy();
  process.exit(0);
});
process.send!({ type: 'ready', opened: clients.length, refused });
