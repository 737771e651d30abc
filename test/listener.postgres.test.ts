/**
 * The LISTEN connection of PostgreSQL: a connection that stops answering without closing (the
 * server or the network gone without a word) is found by the health check's time-out, and the
 * listener reconnects, instead of staying "healthy" while no notification can arrive.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PgListener } from '../src/store/postgres/listener.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { pollUntil } from './helpers/poll.js';
import { PG_URL, postgresReachable } from './helpers/postgres.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

const reachable = await postgresReachable();

const defer = cleanupAfterEach();

describe.skipIf(!reachable)('PgListener health', () => {
  it('a LISTEN connection that stops answering is given up at its health-check time-out and replaced', async () => {
    const server = new URL(PG_URL);
    const proxy = await TcpProxy.start({ host: server.hostname, port: Number(server.port) });
    defer(() => proxy.close());
    const viaProxy = new URL(PG_URL);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const errors: unknown[] = [];
    const channel = `jdt_${randomBytes(6).toString('hex')}`;
    const listener = new PgListener({
      connection: { connectionString: viaProxy.toString(), connectionTimeoutMillis: 3000 },
      runChannel: `${channel}_run`,
      cancelChannel: `${channel}_cancel`,
      eventsChannel: `${channel}_events`,
      healthCheckMs: 100,
      healthCheckTimeoutMs: 500,
      onError: (err) => errors.push(err),
    });
    defer(() => listener.stop());
    await listener.subscribe({ runAvailable: () => {} });
    expect(await listener.waitHealthy()).toBe(true);
    const before = { pid: listener.backendPid, reconnects: listener.reconnects };

    proxy.freeze();
    await pollUntil(() => listener.reconnects > before.reconnects, {
      timeoutMs: 20_000,
      what: 'the listener to give up the silent connection',
    });
    expect(errors.map(String)).toContainEqual(expect.stringMatching(/health check unanswered/));
    expect(await listener.waitHealthy(20_000)).toBe(true);
    expect(listener.backendPid).not.toBe(before.pid);
  });
});
