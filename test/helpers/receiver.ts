import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EVENT_DEADLINE_MS, pollUntil } from './poll.js';

/** A request a receiver got. */
export interface Received {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A local HTTP receiver on 127.0.0.1 standing in for a webhook, Slack or Telegram: records every
 * request and answers `reply` (200 `{"ok":true}` by default), or nothing at all while `silent`.
 * `down()` stops listening (callers get connection refused) and `up()` listens again on the same
 * port.
 */
export class Receiver {
  readonly requests: Received[] = [];
  reply: { status: number; body: string } = { status: 200, body: '{"ok":true}' };
  /** Take requests and never answer them, like an endpoint behind a firewall that drops. */
  silent = false;
  private server: Server;
  private port = 0;

  private constructor() {
    this.server = this.create();
  }

  static async start(): Promise<Receiver> {
    const receiver = new Receiver();
    await receiver.listen(0);
    return receiver;
  }

  private create(): Server {
    return createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.requests.push({
          at: Date.now(),
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        if (this.silent) return;
        res.writeHead(this.reply.status, { 'content-type': 'application/json' });
        res.end(this.reply.body);
      });
    });
  }

  private async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(path = ''): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Stop listening and drop open connections: senders get connection refused. */
  async down(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listen again on the same port. */
  async up(): Promise<void> {
    this.server = this.create();
    await this.listen(this.port);
  }

  /** Wait until `count` requests arrived (and return them). */
  waitFor(count: number, timeoutMs = EVENT_DEADLINE_MS): Promise<Received[]> {
    return pollUntil(() => (this.requests.length >= count ? this.requests.slice() : undefined), {
      timeoutMs,
      what: `${count} request(s) at ${this.url()} (got ${this.requests.length})`,
    });
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.down();
  }
}
