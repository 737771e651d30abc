import pg from 'pg';
import type { CancelMode } from '../../core/cancellation.js';
import type { CancelRequest } from '../store.js';
import { randomUUID } from 'node:crypto';

export interface ListenerHandlers {
  runAvailable?: (job: string) => void;
  cancelRequested?: (runId: string, request: CancelRequest | null) => void;
  /** Events were appended to the feed (the payload is empty: readers read from their seq). */
  eventsAppended?: () => void;
}

export interface PgListenerOptions {
  connection: pg.ClientConfig;
  runChannel: string;
  cancelChannel: string;
  eventsChannel: string;
  onError?: (err: unknown) => void;
  /** How often the connection is checked. Default 5 s. */
  healthCheckMs?: number;
  /**
   * A check unanswered for this long marks the connection dead (half-open: the server or the
   * network went away without a word) and reconnects. Default 3 s.
   */
  healthCheckTimeoutMs?: number;
}

/**
 * One dedicated LISTEN connection per instance, with its own reconnect and health check. After
 * each (re)connect it sends itself a probe: a pooler in transaction mode (PgBouncer) accepts LISTEN
 * but never delivers, so without the probe's echo the listener reports unhealthy and the runtime
 * keeps polling.
 */
export class PgListener {
  private client: pg.Client | null = null;
  private readonly handlers = new Set<ListenerHandlers>();
  private stopped = false;
  private connecting: Promise<void> | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay = 100;
  private probe: { nonce: string; resolve: () => void } | null = null;
  private checking = false;
  /** The events channel is listened to only while someone reads the feed: workers skip its traffic. */
  private listeningEvents = false;
  /** True while notifications are known to arrive. */
  healthy = false;
  /** Reconnects so far, for health reports and tests. */
  reconnects = 0;

  /** The server process of the LISTEN connection (for pg_terminate_backend in tests), or null. */
  get backendPid(): number | null {
    // pg sets processID on connect; its type declarations do not list it.
    const client = this.client as unknown as { processID?: number } | null;
    return client?.processID ?? null;
  }

  /** Whether anyone subscribed (an instance without a worker never does). */
  get listening(): boolean {
    return this.handlers.size > 0;
  }

  constructor(private readonly options: PgListenerOptions) {}

  async subscribe(handlers: ListenerHandlers): Promise<() => Promise<void>> {
    this.handlers.add(handlers);
    this.stopped = false;
    if (!this.client && !this.connecting) await this.connect();
    else if (handlers.eventsAppended && this.client) await this.listenEvents(this.client);
    return async () => {
      this.handlers.delete(handlers);
      if (this.handlers.size === 0) await this.stop();
    };
  }

  /** Wait until notifications are known to arrive (or the timeout passes); for tests and start-up. */
  async waitHealthy(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.healthy && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.healthy;
  }

  private connect(): Promise<void> {
    this.connecting ??= this.open().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const client = new pg.Client(this.options.connection);
    const lost = (err?: unknown) => {
      if (err) this.options.onError?.(err);
      if (this.client !== client) return;
      this.client = null;
      this.healthy = false;
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => this.dispatch(message));
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.options.runChannel)}`);
      await client.query(`LISTEN ${pg.escapeIdentifier(this.options.cancelChannel)}`);
      this.listeningEvents = false;
      await this.listenEvents(client);
    } catch (err) {
      this.options.onError?.(err);
      client.removeAllListeners();
      client.on('error', () => {});
      void client.end().catch(() => {});
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.retryDelay = 100;
    this.healthTimer ??= setInterval(() => void this.check(), this.options.healthCheckMs ?? 5000);
    this.healthTimer.unref();
    await this.sendProbe(client);
    // Anything sent while the connection was down was lost: wake everyone to look once.
    this.broadcastWake();
  }

  private async listenEvents(client: pg.Client): Promise<void> {
    if (this.listeningEvents || ![...this.handlers].some((h) => h.eventsAppended)) return;
    this.listeningEvents = true;
    try {
      await client.query(`LISTEN ${pg.escapeIdentifier(this.options.eventsChannel)}`);
    } catch (err) {
      // The connection failed: its reconnect listens again.
      this.listeningEvents = false;
      this.options.onError?.(err);
    }
  }

  private async sendProbe(client: pg.Client): Promise<void> {
    const nonce = `probe:${randomUUID()}`;
    const echoed = new Promise<void>((resolve) => {
      this.probe = { nonce, resolve };
    });
    try {
      await client.query('SELECT pg_notify($1, $2)', [this.options.runChannel, nonce]);
    } catch (err) {
      this.options.onError?.(err);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const arrived = await Promise.race([
      echoed.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), 2000);
      }),
    ]);
    clearTimeout(timer);
    this.healthy = arrived && this.client === client;
  }

  private dispatch(message: pg.Notification): void {
    const payload = message.payload ?? '';
    if (message.channel === this.options.runChannel) {
      if (this.probe && payload === this.probe.nonce) {
        this.probe.resolve();
        this.probe = null;
        return;
      }
      for (const h of this.handlers) h.runAvailable?.(payload);
    } else if (message.channel === this.options.cancelChannel) {
      const request = parseCancelPayload(payload);
      for (const h of this.handlers) h.cancelRequested?.(request?.id ?? payload, request);
    } else if (message.channel === this.options.eventsChannel) {
      for (const h of this.handlers) h.eventsAppended?.();
    }
  }

  private broadcastWake(): void {
    for (const h of this.handlers) {
      h.runAvailable?.('');
      // Cancels sent while the connection was down were lost too: have them read once.
      h.cancelRequested?.('', null);
      h.eventsAppended?.();
    }
  }

  private async check(): Promise<void> {
    const client = this.client;
    if (!client || this.checking) return;
    this.checking = true;
    const timeoutMs = this.options.healthCheckTimeoutMs ?? 3000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.query('SELECT 1'),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`listener health check unanswered after ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      this.options.onError?.(err);
      // Ends the connection (destroying its socket when the query is still pending) and reconnects.
      client.emit('end');
    } finally {
      clearTimeout(timer);
      this.checking = false;
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    this.reconnects++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, this.retryDelay);
    this.retryTimer.unref();
    this.retryDelay = Math.min(this.retryDelay * 2, 5000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.healthy = false;
    if (this.healthTimer) clearInterval(this.healthTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.healthTimer = null;
    this.retryTimer = null;
    await this.connecting;
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
    }
  }
}

/** The payload of a cancel notification: the request itself, so delivery needs no query. */
export function cancelPayload(request: CancelRequest): string {
  return JSON.stringify({
    id: request.id,
    attempt: request.attempt,
    mode: request.cancel.mode,
    reason: request.cancel.reason,
    requestedBy: request.cancel.requestedBy,
    requestedAt: request.cancel.requestedAt.getTime(),
  });
}

function parseCancelPayload(payload: string): CancelRequest | null {
  try {
    const p = JSON.parse(payload) as {
      id: string;
      attempt: number;
      mode: CancelMode;
      reason: string | null;
      requestedBy: string;
      requestedAt: number;
    };
    if (typeof p.id !== 'string' || typeof p.attempt !== 'number') return null;
    return {
      id: p.id,
      attempt: p.attempt,
      cancel: {
        mode: p.mode,
        reason: p.reason,
        requestedBy: p.requestedBy,
        requestedAt: new Date(p.requestedAt),
      },
    };
  } catch {
    return null;
  }
}
