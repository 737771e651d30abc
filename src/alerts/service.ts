import type { RunDto } from '../api/schemas.js';
import { runDto } from '../api/schemas.js';
import { backoffDelay, type BackoffOptions } from '../core/backoff.js';
import { storeTime, type Clock } from '../core/clock.js';
import { JobdeckError } from '../core/errors.js';
import { newRunId } from '../core/ids.js';
import type { Run } from '../core/run.js';
import type { EventFeed } from '../events/feed.js';
import type { JobRegistry } from '../jobs/registry.js';
import { formatDuration } from '../core/duration.js';
import type { AlertDeliveryTask, AlertRecord, Store, StoredEvent } from '../store/store.js';
import { channelSecrets, redact, sendToChannel, type SendResult } from './channels.js';
import type { AlertEventName, AlertRule, AlertsConfig, ChannelType } from './config.js';
import { globMatcher } from './glob.js';
import { renderTemplate } from './template.js';

export interface AlertServiceOptions {
  store: Store;
  feed: EventFeed;
  registry: JobRegistry;
  clock: Clock;
  /** The rules and channels; null: this instance sends nothing (it still lists alerts). */
  config: AlertsConfig | null;
  /** Where the dashboard is reached, for links: `<publicUrl>/dashboard/runs/<id>`. */
  publicUrl: string;
  /** Who claims deliveries: this instance's id. */
  instanceId: string;
  /** How often due deliveries (retries, other instances' alerts) are looked for. Default 1 s. */
  deliveryPollMs?: number;
  /** Each HTTP call to a channel. Default 10 s. */
  timeoutMs?: number;
  /** Tries per delivery before it is given up. Default 10. */
  maxAttempts?: number;
  /** Wait between tries. Default 1 s doubling up to 5 min, with jitter. */
  backoff?: BackoffOptions;
  /** How often queue backlogs are checked. Default 60 s. */
  checkIntervalMs?: number;
  fetch?: typeof fetch;
  onError?: (err: unknown, where: string) => void;
}

/** An alert as the API shows it: its deliveries summed up in one state. */
export interface AlertView extends AlertRecord {
  /** suppressed (cooldown), pending (a delivery not done yet), failed (one given up), delivered. */
  state: 'suppressed' | 'pending' | 'failed' | 'delivered';
  link: string | null;
}

/** What POST /api/alerts/test answers. */
export interface AlertTestResult {
  channel: string;
  type: ChannelType;
  delivered: boolean;
  status: number | null;
  error: string | null;
  durationMs: number;
}

/** One finished attempt, for whoever counts them (metrics). */
export interface AlertAttemptReport {
  channel: string;
  type: ChannelType;
  ok: boolean;
  /** The delivery was given up with this attempt. */
  gaveUp: boolean;
}

/** Sends one instance has in progress at most. */
const MAX_SENDS = 20;

/** The `where` of a delivery attempt a channel refused: an outside failure, not ours. */
export const ALERT_ATTEMPT_FAILED = 'alert attempt';
const DEFAULT_BACKOFF: BackoffOptions = { base: 1000, max: 300_000 };

/** What a rule fires on, from an event of the feed. */
function alertEventOf(event: StoredEvent): AlertEventName | null {
  switch (event.name) {
    case 'run.finished':
      if (event.status === 'failed') return 'run.failed';
      if (event.status === 'partial') return 'run.partial';
      if (event.status === 'cancelled') return 'run.cancelled';
      return null;
    case 'run.stuck':
      return 'run.stuck';
    case 'run.retrying':
      // A retry after a failed or lost attempt backs off (scheduled); a release on shutdown does not.
      return event.status === 'scheduled' ? 'run.retrying' : null;
    default:
      return null;
  }
}

/** The run without what a message never needs (input, result, items), as the API writes it. */
function runSummary(run: Run): Partial<RunDto> {
  const dto: Partial<RunDto> = runDto(run);
  delete dto.input;
  delete dto.result;
  delete dto.items;
  return dto;
}

/**
 * Alerts for the whole cluster. Every instance with the alerts file reads the store's event feed
 * (so it sees every instance's runs) and checks queue backlogs; the store records each (rule,
 * event) once and keeps each rule's cooldown per job, so N instances send one alert, not N. Its
 * deliveries are retried with back-off by whichever instance claims them, each attempt recorded.
 */
export class AlertService {
  private readonly rules: {
    rule: AlertRule;
    job: (name: string) => boolean;
    category: ((name: string) => boolean) | null;
  }[];
  private readonly queue: StoredEvent[] = [];
  private readonly listeners = new Set<(report: AlertAttemptReport) => void>();
  private offFeed: (() => void) | null = null;
  private timers: NodeJS.Timeout[] = [];
  private processing: Promise<void> | null = null;
  private delivering: Promise<void> | null = null;
  private deliverAgain = false;
  /** Sends in progress; each ends on its own, so one silent receiver holds up no other. */
  private readonly sending = new Set<Promise<void>>();
  /** The last claim took all it could: more may be due once a send ends. */
  private moreDue = false;
  private stopped = true;
  private processedSeq = 0;
  /** The newest seq the feed handed over. */
  private feedSeq = 0;
  /** Aborts the sends in flight when the service stops (their leases let another retry). */
  private stopping = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly options: AlertServiceOptions) {
    this.rules = (options.config?.rules ?? []).map((rule) => ({
      rule,
      job: rule.job ? globMatcher(rule.job) : () => true,
      category: rule.category ? globMatcher(rule.category) : null,
    }));
  }

  /** The rules and channels in force; null when no alerts file is loaded. */
  get config(): AlertsConfig | null {
    return this.options.config;
  }

  /** Every feed event up to this seq has been considered by this instance. */
  get seenSeq(): number {
    return this.processedSeq;
  }

  /** Whether this instance has nothing left to consider or to send right now. */
  get idle(): boolean {
    return (
      this.queue.length === 0 && !this.processing && !this.delivering && this.sending.size === 0
    );
  }

  /** Start reading the feed, delivering and checking backlogs (nothing without rules). */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopping = new AbortController();
    const config = this.options.config;
    if (!config || (config.rules.length === 0 && Object.keys(config.channels).length === 0)) return;
    const { feed } = this.options;
    if (this.rules.length > 0) {
      await feed.start();
      // No await between the two: nothing read in between is missed.
      this.processedSeq = feed.head;
      this.offFeed = feed.subscribe((events) => this.enqueue(events));
    }
    this.timers.push(setInterval(() => this.wakeDelivery(), this.options.deliveryPollMs ?? 1000));
    if (this.rules.some(({ rule }) => rule.on.includes('queue.backlog'))) {
      this.timers.push(
        setInterval(() => void this.checkBacklog(), this.options.checkIntervalMs ?? 60_000),
      );
    }
    for (const timer of this.timers) timer.unref();
    this.wakeDelivery();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.offFeed?.();
    this.offFeed = null;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.queue.length = 0;
    await Promise.allSettled([this.processing, this.delivering, ...this.inFlight]);
    await Promise.allSettled([...this.sending]);
  }

  /** Hear of each delivery attempt (metrics); returns the unsubscribe. */
  onAttempt(listener: (report: AlertAttemptReport) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Recent alerts, newest first, with their deliveries and attempts. */
  async list(params: { limit: number; before?: string | null }): Promise<AlertView[]> {
    const alerts = await this.options.store.alertList(params);
    return alerts.map((alert) => ({
      ...alert,
      state: alert.suppressed
        ? 'suppressed'
        : alert.deliveries.some((d) => d.status === 'failed')
          ? 'failed'
          : alert.deliveries.every((d) => d.status === 'delivered')
            ? 'delivered'
            : 'pending',
      link: alert.runId ? this.runLink(alert.runId) : null,
    }));
  }

  /** Send a test message through a channel of the alerts file, once, and say how it went. */
  async test(channelName: string, message?: string): Promise<AlertTestResult> {
    const channel = this.options.config?.channels[channelName];
    if (!channel || !Object.hasOwn(this.options.config!.channels, channelName)) {
      throw new JobdeckError(
        'NOT_FOUND',
        this.options.config
          ? `No alert channel ${channelName}; the alerts file names ${Object.keys(this.options.config.channels).join(', ') || 'none'}.`
          : `No alert channel ${channelName}: no alerts file is loaded.`,
      );
    }
    const id = newRunId();
    const text = message ?? 'Test message from Jobdeck: this channel works.';
    const link = `${this.publicUrl}/dashboard/alerts`;
    const at = this.options.clock.now();
    const result = await sendToChannel(
      channel,
      {
        id,
        rule: 'test',
        severity: 'info',
        event: 'test',
        message: text,
        link,
        payload: {
          id,
          event: { name: 'test', at: at.toISOString() },
          rule: { name: 'test', severity: 'info' },
          job: null,
          run: null,
          message: text,
          link,
        },
      },
      this.sendOptions(),
    );
    return {
      channel: channelName,
      type: channel.type,
      delivered: result.ok,
      status: result.status ?? null,
      error: result.error ?? null,
      durationMs: result.durationMs,
    };
  }

  private get publicUrl(): string {
    return this.options.publicUrl.replace(/\/+$/, '');
  }

  private runLink(runId: string): string {
    return `${this.publicUrl}/dashboard/runs/${encodeURIComponent(runId)}`;
  }

  private sendOptions(): { timeoutMs: number; fetch?: typeof fetch } {
    return {
      timeoutMs: this.options.timeoutMs ?? 10_000,
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
    };
  }

  /** Queue what a rule may fire on (progress and logs are most of the feed: not kept). */
  private enqueue(events: StoredEvent[]): void {
    if (this.stopped || events.length === 0) return;
    this.queue.push(...events.filter((event) => alertEventOf(event) !== null));
    this.feedSeq = events[events.length - 1]!.seq;
    if (this.queue.length === 0 && !this.processing) {
      this.processedSeq = this.feedSeq;
      return;
    }
    this.processing ??= this.drain().finally(() => {
      this.processing = null;
    });
  }

  /** Consider each queued event in seq order, one at a time. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.stopped) {
      const event = this.queue.shift()!;
      await this.consider(event, alertEventOf(event)!);
      this.processedSeq = event.seq;
    }
    if (!this.stopped) this.processedSeq = Math.max(this.processedSeq, this.feedSeq);
  }

  private async consider(event: StoredEvent, name: AlertEventName): Promise<void> {
    if (!('run' in event)) return;
    const run = event.run;
    // The attempt the event is about, as the event recorded it.
    const attempt = event.attempt ?? run?.attempt ?? null;
    for (const entry of this.rules) {
      const { rule } = entry;
      if (!rule.on.includes(name) || !this.matches(entry, event.job)) continue;
      if (rule.afterAttempt !== null && (attempt === null || attempt < rule.afterAttempt)) continue;
      const since =
        name === 'run.stuck' && run?.startedAt ? run.startedAt.toISOString() : undefined;
      await this.fire(rule, {
        key: `seq:${event.seq}`,
        event: name,
        job: event.job,
        runId: event.runId,
        status: event.status,
        run,
        attempt,
        at: event.at,
        extra: since ? { since } : {},
      });
    }
  }

  private matches(entry: (typeof this.rules)[number], job: string): boolean {
    if (!entry.job(job)) return false;
    if (!entry.category) return true;
    // A category is known only where the job is defined; other instances leave the event to those.
    const definition = this.options.registry.get(job);
    return definition !== undefined && entry.category(definition.category);
  }

  /** Record the alert once for the cluster; deliver it at once when this instance won it. */
  private async fire(
    rule: AlertRule,
    about: {
      key: string;
      event: AlertEventName;
      job: string;
      runId: string | null;
      status: string | null;
      run: Run | null;
      attempt: number | null;
      at: Date;
      extra: Record<string, unknown>;
    },
  ): Promise<void> {
    const { store, clock, registry } = this.options;
    const run = about.run ? runSummary(about.run) : null;
    const link = about.runId ? this.runLink(about.runId) : null;
    const error = about.run ? (about.run.error ?? about.run.lastError) : null;
    const values: Record<string, unknown> = {
      event: about.event,
      rule: rule.name,
      severity: rule.severity,
      job: about.job,
      category: registry.get(about.job)?.category ?? null,
      status: about.status,
      runId: about.runId,
      run,
      error,
      attempt: about.attempt,
      maxAttempts: about.run?.maxAttempts ?? null,
      link,
      ...about.extra,
    };
    const message = renderTemplate(rule.message ?? defaultMessage(about.event), values).trim();
    const id = newRunId();
    const payload = {
      id,
      event: { name: about.event, at: about.at.toISOString(), ...about.extra },
      rule: { name: rule.name, severity: rule.severity },
      job: about.job,
      run,
      message,
      link,
    };
    for (let tries = 1; ; tries++) {
      try {
        const { created, alert } = await store.alertInsert({
          id,
          rule: rule.name,
          key: about.key,
          event: about.event,
          job: about.job,
          runId: about.runId,
          severity: rule.severity,
          message,
          payload,
          channels: rule.channels,
          cooldownMs: rule.cooldownMs,
          now: storeTime(clock),
        });
        if (created && alert && alert.deliveries.length > 0) this.wakeDelivery();
        return;
      } catch (err) {
        // The store is down: try again shortly, then leave the event to other instances.
        if (tries >= 3 || this.stopped) {
          this.options.onError?.(err, 'alert rule');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * tries));
      }
    }
  }

  /** Look for due deliveries now (coalesced with a look in progress). */
  private wakeDelivery(): void {
    if (this.stopped) return;
    if (this.delivering) {
      this.deliverAgain = true;
      return;
    }
    this.delivering = this.deliverDue().finally(() => {
      this.delivering = null;
    });
  }

  private async deliverDue(): Promise<void> {
    const config = this.options.config;
    if (!config) return;
    const channels = Object.keys(config.channels);
    try {
      do {
        this.deliverAgain = false;
        const free = MAX_SENDS - this.sending.size;
        this.moreDue = free <= 0;
        if (this.moreDue) return;
        const tasks = await this.options.store.alertDeliveryClaim({
          owner: this.options.instanceId,
          channels,
          now: storeTime(this.options.clock),
          // Past every attempt's time-out: an instance that dies mid-send leaves it to another.
          leaseMs: 2 * (this.options.timeoutMs ?? 10_000) + 5000,
          limit: free,
        });
        for (const task of tasks) this.send(task);
        this.moreDue = tasks.length === free;
        if (this.moreDue) this.deliverAgain = true;
      } while (this.deliverAgain && !this.stopped);
    } catch (err) {
      this.options.onError?.(err, 'alert delivery');
    }
  }

  /** One delivery attempt, not awaited by the claim loop: a slow channel delays only itself. */
  private send(task: AlertDeliveryTask): void {
    const sent: Promise<void> = this.attempt(task)
      .catch((err: unknown) => this.options.onError?.(err, 'alert delivery'))
      .finally(() => {
        this.sending.delete(sent);
        if (this.moreDue) this.wakeDelivery();
      });
    this.sending.add(sent);
  }

  private async attempt(task: AlertDeliveryTask): Promise<void> {
    const { store, clock } = this.options;
    const channel = this.options.config!.channels[task.channel]!;
    const at = clock.now();
    const payload = task.payload as { link?: string | null } | null;
    let result: SendResult;
    try {
      result = await sendToChannel(
        channel,
        {
          id: task.alertId,
          rule: task.rule,
          severity: task.severity,
          event: task.event,
          message: task.message,
          payload: task.payload,
          link: payload?.link ?? null,
        },
        { ...this.sendOptions(), now: at, signal: this.stopping.signal },
      );
    } catch (err) {
      result = { ok: false, durationMs: 0, error: redact(String(err), channelSecrets(channel)) };
    }
    // Stopped mid-send: not this attempt's fault; once the lease ends any instance tries again.
    if (this.stopped) return;
    const number = task.attemptCount + 1;
    const maxAttempts = this.options.maxAttempts ?? 10;
    const outcome = result.ok
      ? ({ status: 'delivered' } as const)
      : number >= maxAttempts
        ? ({ status: 'failed' } as const)
        : ({
            status: 'retry',
            retryInMs: backoffDelay(number, this.options.backoff ?? DEFAULT_BACKOFF),
          } as const);
    const recorded = await store.alertDeliveryRecord({
      alertId: task.alertId,
      channel: task.channel,
      owner: this.options.instanceId,
      attempt: {
        at,
        ok: result.ok,
        durationMs: result.durationMs,
        ...(result.status === undefined ? {} : { status: result.status }),
        ...(result.error === undefined ? {} : { error: result.error }),
      },
      outcome,
      now: storeTime(clock),
    });
    if (!result.ok && recorded) {
      this.options.onError?.(
        new Error(
          `alert ${task.alertId} to channel ${task.channel}: attempt ${number} failed (${result.error ?? 'no reason'})${outcome.status === 'failed' ? '; given up' : ''}`,
        ),
        ALERT_ATTEMPT_FAILED,
      );
    }
    for (const listener of this.listeners) {
      try {
        listener({
          channel: task.channel,
          type: channel.type,
          ok: result.ok,
          gaveUp: outcome.status === 'failed',
        });
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /** Per job, the oldest waiting run against each queue.backlog rule. */
  private async checkBacklog(): Promise<void> {
    const run = this.checkBacklogOnce().catch((err: unknown) =>
      this.options.onError?.(err, 'alert backlog check'),
    );
    this.inFlight.add(run);
    await run;
    this.inFlight.delete(run);
  }

  /** One backlog check now (also for tests). */
  async checkBacklogOnce(): Promise<void> {
    const entries = this.rules.filter(({ rule }) => rule.on.includes('queue.backlog'));
    if (entries.length === 0 || this.stopped) return;
    const now = this.options.clock.now();
    const shortest = Math.min(...entries.map(({ rule }) => rule.backlogAfterMs ?? Infinity));
    const oldest = await this.options.store.runOldestDueByJob({
      dueBefore: new Date(now.getTime() - shortest),
    });
    for (const waiting of oldest) {
      const waitedMs = now.getTime() - waiting.dueAt.getTime();
      for (const entry of entries) {
        const { rule } = entry;
        if (waitedMs < (rule.backlogAfterMs ?? Infinity) || !this.matches(entry, waiting.job))
          continue;
        await this.fire(rule, {
          // One alert per rule and oldest run: a backlog that lasts does not repeat it.
          key: `backlog:${waiting.job}:${waiting.id}`,
          event: 'queue.backlog',
          job: waiting.job,
          runId: waiting.id,
          status: null,
          run: null,
          attempt: null,
          at: now,
          extra: { since: waiting.dueAt.toISOString(), waiting: formatDuration(waitedMs) },
        });
      }
    }
  }
}

/** The message of a rule that gives none. */
function defaultMessage(event: AlertEventName): string {
  switch (event) {
    case 'run.failed':
    case 'run.partial':
    case 'run.cancelled':
      return '{{job}} {{status}}: {{error.message}} ({{link}})';
    case 'run.stuck':
      return '{{job}} is stuck: attempt {{attempt}} running since {{since}} ({{link}})';
    case 'run.retrying':
      return '{{job}} attempt {{attempt}} of {{maxAttempts}} failed, retrying: {{error.message}} ({{link}})';
    case 'queue.backlog':
      return '{{job}}: the oldest waiting run has waited {{waiting}} ({{link}})';
  }
}
