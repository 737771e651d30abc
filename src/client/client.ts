import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { CancelMode } from '../core/cancellation.js';
import type { RunStatus } from '../core/status.js';
import type {
  AlertDto,
  AlertTestDto,
  BatchResultDto,
  RunDetailDto,
  RunDto,
  StatsDto,
  WorkerDto,
} from '../api/schemas.js';
import type { StatsBucket } from '../runs/stats-window.js';

/** A job as the API describes it. */
export interface JobInfo {
  name: string;
  category: string;
  description: string;
  enabled: boolean;
  schedule:
    | { kind: 'every'; everyMs: number }
    | { kind: 'cron'; cron: string; timezone: string | null }
    | null;
  canTrigger: boolean;
  allowConcurrent: boolean;
  concurrency: number | null;
  /** At most `max` starts in any `perMs`, across instances; null when unlimited. */
  rateLimit: { max: number; perMs: number } | null;
  maxAttempts: number;
  timeoutMs: number | null;
  isolation: string;
  inputSchema: unknown;
}

/** A log line of a run, as the API answers it. */
export interface LogInfo {
  seq: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  data?: unknown;
  time: string;
}

/** A run as the API answers it (times as ISO strings). */
export type RunInfo = RunDto;
/** A run with its items, attempts, steps and children, as `GET /api/runs/:id` answers it. */
export type RunDetailInfo = RunDetailDto;
/** A child run as its parent's {@link RunDetailInfo} lists it. */
export type RunChildInfo = RunDetailDto['children'][number];
/** An instance of the application, as `GET /api/workers` lists it. */
export type WorkerInfo = WorkerDto;
/** A recent alert with its deliveries, as `GET /api/alerts` lists it. */
export type AlertInfo = AlertDto;
/** What a test message to one alert channel did. */
export type AlertTestInfo = AlertTestDto;
export type { StatsBucket };

/** One run of {@link JobdeckClient.triggerMany}: what {@link JobdeckClient.trigger} takes, with the job. */
export interface TriggerManyItem {
  job: string;
  input?: unknown;
  /** ISO 8601 time with a zone. */
  runAt?: string;
  priority?: number;
  idempotencyKey?: string;
}

/** The answer for one run of {@link JobdeckClient.triggerMany}. */
export type TriggerManyResult = BatchResultDto;

/** The answer of GET /api/stats. */
export type StatsInfo = StatsDto;

/** One Server-Sent Event of `GET /api/events`, as the client reads it. */
export interface ClientEvent {
  id: string | undefined;
  name: string;
  data: unknown;
}

/** An error answer of the API, with its code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** No answer from the server: refused or failed connection, unknown host. */
export class UnreachableError extends Error {
  constructor(
    readonly url: string,
    /** The system's word for it when there is one (ECONNREFUSED, ENOTFOUND…). */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`cannot reach ${url}: ${reason}`, options);
    this.name = 'UnreachableError';
  }
}

/** Where the client's server is, and the token it sends. */
export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:3000 */
  url: string;
  token?: string;
  fetch?: typeof fetch;
}

/** The typed HTTP client of the Jobdeck API; the CLI and dashboard use it, and so can you. */
export class JobdeckClient {
  private readonly base: string;
  private readonly fetcher: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.fetcher = options.fetch ?? fetch;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
      ...extra,
    };
  }

  /** fetch, with a refused or failed connection named by the server it tried. */
  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetcher(this.base + path, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new UnreachableError(this.base, reason, { cause: err });
    }
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(path, {
      method,
      headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = parsed as { error?: string; message?: string } | null;
      throw new ApiError(
        response.status,
        error?.error ?? 'HTTP_' + response.status,
        error?.message ?? response.statusText,
        parsed,
      );
    }
    return parsed as T;
  }

  /** Who the token, or the dashboard's session cookie, belongs to. */
  session(): Promise<{ principal: string; role: string }> {
    return this.request('GET', '/api/session');
  }

  /** Ends the dashboard's cookie session: the cookie is cleared and no longer accepted. */
  async signOut(): Promise<void> {
    await this.request('DELETE', '/api/session');
  }

  health(): Promise<{ status: string; store: string }> {
    return this.request('GET', '/healthz');
  }

  async jobs(): Promise<JobInfo[]> {
    return (await this.request<{ jobs: JobInfo[] }>('GET', '/api/jobs')).jobs;
  }

  job(name: string): Promise<{ job: JobInfo; runs: RunDto[] }> {
    return this.request('GET', `/api/jobs/${encodeURIComponent(name)}`);
  }

  async setEnabled(name: string, enabled: boolean): Promise<JobInfo> {
    return (
      await this.request<{ job: JobInfo }>('PATCH', `/api/jobs/${encodeURIComponent(name)}`, {
        enabled,
      })
    ).job;
  }

  trigger(
    name: string,
    params: { input?: unknown; runAt?: string; priority?: number; idempotencyKey?: string } = {},
  ): Promise<{ run: RunDto; created: boolean }> {
    return this.request('POST', `/api/jobs/${encodeURIComponent(name)}/runs`, params);
  }

  /**
   * Start many runs in one request (at most 1,000: `RUN_BATCH_MAX`), each checked on its own: one
   * result per run, in the order given, either `{run, created}` or `{error, message, details?}`
   * with the code a single trigger would have answered. A refused run never stops the others.
   */
  async triggerMany(runs: TriggerManyItem[]): Promise<TriggerManyResult[]> {
    return (
      await this.request<{ results: TriggerManyResult[] }>('POST', '/api/runs/batch', { runs })
    ).results;
  }

  /**
   * A page of runs, newest first. `from`/`to` bound the creation time, `q` is a run id or the
   * start of one, `parentId` keeps the children of that run (`ctx.spawn`); `total: true` also
   * counts every match (exactly up to 10,000, else capped).
   */
  runs(
    filter: {
      status?: RunStatus[];
      job?: string;
      createdBy?: string;
      from?: Date | string;
      to?: Date | string;
      q?: string;
      parentId?: string;
      total?: boolean;
      limit?: number;
      cursor?: string;
    } = {},
  ): Promise<{
    runs: RunDto[];
    nextCursor: string | null;
    total?: number;
    totalIsCapped?: boolean;
  }> {
    return this.request(
      'GET',
      withQuery('/api/runs', {
        status: filter.status?.length ? filter.status.join(',') : undefined,
        job: filter.job,
        createdBy: filter.createdBy,
        from: isoOf(filter.from),
        to: isoOf(filter.to),
        q: filter.q,
        parentId: filter.parentId,
        total: filter.total ? 'true' : undefined,
        limit: filter.limit ? String(filter.limit) : undefined,
        cursor: filter.cursor,
      }),
    );
  }

  /**
   * Runs created, started and ended per bucket and job over a window (default: the 24 h before
   * now in 1 h buckets), and the runs waiting now.
   */
  stats(
    params: { from?: Date | string; to?: Date | string; bucket?: StatsBucket } = {},
  ): Promise<StatsInfo> {
    return this.request(
      'GET',
      withQuery('/api/stats', {
        from: isoOf(params.from),
        to: isoOf(params.to),
        bucket: params.bucket,
      }),
    );
  }

  /** One run with its whole history of attempts, its durable steps and its child runs. */
  async run(id: string): Promise<RunDetailDto> {
    return (await this.request<{ run: RunDetailDto }>('GET', `/api/runs/${encodeURIComponent(id)}`))
      .run;
  }

  async logs(id: string, after = 0): Promise<LogInfo[]> {
    return (
      await this.request<{ logs: LogInfo[] }>(
        'GET',
        `/api/runs/${encodeURIComponent(id)}/logs?after=${after}`,
      )
    ).logs;
  }

  cancel(
    id: string,
    params: { mode?: CancelMode; reason?: string } = {},
  ): Promise<{ run: RunDto; action: string }> {
    return this.request('POST', `/api/runs/${encodeURIComponent(id)}/cancel`, params);
  }

  cancelMany(params: {
    ids?: string[];
    job?: string;
    status?: RunStatus[];
    mode?: CancelMode;
    reason?: string;
  }): Promise<{
    truncated: boolean;
    results: { id: string; outcome: string; status?: string; error?: string; message?: string }[];
  }> {
    return this.request('POST', '/api/runs/cancel', params);
  }

  /**
   * Pause a run: held at once when no handler runs (not started, or waiting for its child runs:
   * `hold-now`), else it stops at its handler's next checkpoint (`request`), its worker's slot
   * freed; `unchanged` when paused.
   */
  pause(id: string): Promise<{ run: RunDto; action: 'hold-now' | 'request' | 'unchanged' }> {
    return this.request('POST', `/api/runs/${encodeURIComponent(id)}/pause`);
  }

  /** Resume a paused run: pending again, it goes on after its last completed step. */
  async resume(id: string): Promise<RunDto> {
    return (
      await this.request<{ run: RunDto }>('POST', `/api/runs/${encodeURIComponent(id)}/resume`)
    ).run;
  }

  async retry(id: string): Promise<RunDto> {
    return (
      await this.request<{ run: RunDto }>('POST', `/api/runs/${encodeURIComponent(id)}/retry`)
    ).run;
  }

  /**
   * The answer to a `/jobs` chat command (`/jobs active`, `/jobs cancel <run> force`…), as the
   * token's principal: the text a chat would show.
   */
  async chat(text: string): Promise<string> {
    return (await this.request<{ text: string }>('POST', '/api/chatops', { text })).text;
  }

  /** Every instance (API, worker or both), alive or lost, with the runs it executes. */
  async workers(): Promise<WorkerDto[]> {
    return (await this.request<{ workers: WorkerDto[] }>('GET', '/api/workers')).workers;
  }

  /** Recent alerts, newest first, with the state and attempts of their deliveries. */
  async alerts(options: { limit?: number; before?: string } = {}): Promise<AlertDto[]> {
    const path = withQuery('/api/alerts', {
      limit: options.limit === undefined ? undefined : String(options.limit),
      before: options.before,
    });
    return (await this.request<{ alerts: AlertDto[] }>('GET', path)).alerts;
  }

  /** Send a test message through a channel of the server's alerts file (admin). */
  testAlert(channel: string, message?: string): Promise<AlertTestDto> {
    return this.request('POST', '/api/alerts/test', {
      channel,
      ...(message === undefined ? {} : { message }),
    });
  }

  /**
   * Stream run events until `signal` aborts or the server closes. Resolves when the stream ends.
   * `onOpen` is called once the server has accepted the stream.
   */
  async events(
    filter: EventFilter,
    onEvent: (event: ClientEvent) => void,
    options: { signal?: AbortSignal; onOpen?: () => void; lastEventId?: string } = {},
  ): Promise<void> {
    const query = new URLSearchParams();
    if (filter.job) query.set('job', filter.job);
    if (filter.run) query.set('run', filter.run);
    if (filter.status?.length) query.set('status', filter.status.join(','));
    const qs = query.toString();
    const response = await this.fetcher(`${this.base}/api/events${qs ? `?${qs}` : ''}`, {
      headers: this.headers({
        accept: 'text/event-stream',
        ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}),
      }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!response.ok || !response.body) {
      const body = (await response.json().catch(() => null)) as {
        error?: string;
        message?: string;
      } | null;
      throw new ApiError(
        response.status,
        body?.error ?? 'HTTP_' + response.status,
        body?.message ?? response.statusText,
        body,
      );
    }
    options.onOpen?.();
    const parser = createParser({
      onEvent: (message: EventSourceMessage) => {
        onEvent({
          id: message.id,
          name: message.event ?? 'message',
          data: JSON.parse(message.data) as unknown,
        });
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>)
        parser.feed(decoder.decode(chunk, { stream: true }));
    } catch (err) {
      if (!options.signal?.aborted) throw err;
    }
  }

  /**
   * Stream events like {@link events}, reconnecting with the last event id when the stream ends
   * or the server goes away (a restart, a load balancer moving the client to another instance),
   * so no event is missed within the server's retention window; a `reset` event says when some
   * were. Ends when `signal` aborts; refusals (401, 403, 400) end it with their error.
   */
  async follow(
    filter: EventFilter,
    onEvent: (event: ClientEvent) => void,
    options: { signal: AbortSignal; onOpen?: () => void; retryMs?: number },
  ): Promise<void> {
    let lastEventId: string | undefined;
    while (!options.signal.aborted) {
      try {
        await this.events(
          filter,
          (event) => {
            if (event.id) lastEventId = event.id;
            onEvent(event);
          },
          {
            signal: options.signal,
            ...(options.onOpen ? { onOpen: options.onOpen } : {}),
            ...(lastEventId ? { lastEventId } : {}),
          },
        );
      } catch (err) {
        if (options.signal.aborted) return;
        if (err instanceof ApiError && err.status < 500) throw err;
      }
      if (options.signal.aborted) return;
      await abortableDelay(options.retryMs ?? 1000, options.signal);
    }
  }
}

/** Which events a stream carries: one job, one run, some statuses. */
export interface EventFilter {
  job?: string;
  run?: string;
  status?: string[];
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A path with the query parameters that have a value. */
function withQuery(path: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

function isoOf(time: Date | string | undefined): string | undefined {
  return time instanceof Date ? time.toISOString() : time;
}
