import type { FastifyBaseLogger } from 'fastify';
import type { ServerResponse } from 'node:http';
import { errorSummary } from '../core/errors.js';
import { Once } from '../core/once.js';
import type { Run } from '../core/run.js';
import type { RunStatus } from '../core/status.js';
import type { EventFeed } from '../events/feed.js';
import { FEED_EVENT_NAMES, type FeedEventName, type StoredEvent } from '../store/store.js';
import { logDto, runDto, stepDto } from './schemas.js';

/** The events clients can subscribe to: the whole feed. */
export const STREAMED_EVENTS: readonly FeedEventName[] = FEED_EVENT_NAMES;

/** A feed event as its wire text, made once for every client that receives it. */
export interface StreamEvent {
  seq: number;
  name: FeedEventName;
  runId: string | null;
  job: string;
  status: RunStatus | null;
  /** The `id:`/`event:`/`data:` lines, ready to write; null when there is nothing left to send (a log line the run's cap dropped). */
  text: string | null;
  bytes: number;
}

/** Events carry the run without its input, result and items: those are read with GET /api/runs/:id. */
function runEventDto(run: Run) {
  const dto: Partial<ReturnType<typeof runDto>> = runDto(run);
  delete dto.input;
  delete dto.result;
  delete dto.items;
  return dto;
}

export function toStreamEvent(event: StoredEvent): StreamEvent {
  const at = event.at.toISOString();
  let data: unknown;
  switch (event.name) {
    case 'run.log':
      data = event.log && {
        at,
        runId: event.runId,
        job: event.job,
        status: event.status,
        entry: logDto(event.log),
      };
      break;
    case 'run.step':
      data = {
        at,
        runId: event.runId,
        job: event.job,
        status: event.status,
        step: stepDto(event.step),
      };
      break;
    case 'job.updated':
      data = {
        at,
        job: {
          name: event.jobState.name,
          enabled: event.jobState.enabled,
          updatedAt: event.jobState.updatedAt.toISOString(),
        },
      };
      break;
    default:
      data = event.run && { at, status: event.status, run: runEventDto(event.run) };
  }
  const text = data
    ? `id: ${event.seq}\nevent: ${event.name}\ndata: ${JSON.stringify(data)}\n\n`
    : null;
  return {
    seq: event.seq,
    name: event.name,
    runId: event.runId,
    job: event.job,
    status: event.status,
    text,
    bytes: text === null ? 0 : Buffer.byteLength(text),
  };
}

export interface EventLogLimits {
  /** Recent events held in memory for streams that are behind. Default 2,000. */
  maxEvents?: number;
  /** Bytes of recent event text held at most. Default 2 MiB. */
  maxBytes?: number;
}

/** Where a stream starts: after `cursor`, with a reset first when the client's id cannot be resumed. */
export interface StreamStart {
  cursor: number;
  reset?: 'expired' | 'unknown';
}

/**
 * The feed as event streams read it: the recent events in memory (one copy of their wire text for
 * every stream), older ones paged from the store, so a client resuming with `Last-Event-ID` gets
 * every event it missed, on any instance, within the store's retention window.
 */
export class EventLog {
  private readonly recent: StreamEvent[] = [];
  /** `recent` holds every event after this seq, up to the feed's head. */
  private recentAfter = 0;
  private bytes = 0;
  private readonly listeners = new Set<(events: readonly StreamEvent[]) => void>();
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private off: (() => void) | null = null;
  private readonly starting = new Once(() => this.open());

  constructor(
    private readonly feed: EventFeed,
    limits: EventLogLimits = {},
  ) {
    this.maxEvents = limits.maxEvents ?? 2000;
    this.maxBytes = limits.maxBytes ?? 2 * 1024 * 1024;
  }

  /** Start following the feed (idempotent). */
  start(): Promise<void> {
    return this.starting.run();
  }

  private async open(): Promise<void> {
    await this.feed.start();
    // No await between the two: nothing read in between is missed.
    this.recentAfter = this.feed.head;
    this.off = this.feed.subscribe((events) => this.append(events));
  }

  private append(events: StoredEvent[]): void {
    const added: StreamEvent[] = [];
    for (const event of events) {
      if (event.seq <= this.recentAfter) continue;
      const streamed = toStreamEvent(event);
      added.push(streamed);
      this.recent.push(streamed);
      this.bytes += streamed.bytes;
    }
    while (this.recent.length > this.maxEvents || this.bytes > this.maxBytes) {
      const dropped = this.recent.shift()!;
      this.bytes -= dropped.bytes;
      this.recentAfter = dropped.seq;
    }
    for (const listener of this.listeners) listener(added);
  }

  /** The seq of the newest event read. */
  get head(): number {
    return this.feed.head;
  }

  /** The most bytes of event text held in memory. */
  get capacityBytes(): number {
    return this.maxBytes;
  }

  /** Where a stream that last saw `lastEventId` (or nothing) resumes. */
  async resume(lastEventId: string | undefined): Promise<StreamStart> {
    await this.start();
    if (lastEventId === undefined || lastEventId === '') return { cursor: this.head };
    if (!/^\d{1,15}$/.test(lastEventId)) return { cursor: this.head, reset: 'unknown' };
    const seq = Number(lastEventId);
    const bounds = await this.feed.store.eventBounds();
    // An id this database never gave out: another database, or garbage.
    if (seq > Math.max(bounds.last, this.head)) return { cursor: this.head, reset: 'unknown' };
    if (seq < bounds.pruned) return { cursor: this.head, reset: 'expired' };
    return { cursor: seq };
  }

  /**
   * Events after `cursor`, oldest first, at most `limit`: from memory when it still holds them,
   * else from the store. Empty while the store holds events back behind a seq still being written.
   */
  async after(cursor: number, limit: number): Promise<StreamEvent[]> {
    if (cursor >= this.recentAfter) {
      let low = 0;
      let high = this.recent.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (this.recent[mid]!.seq <= cursor) low = mid + 1;
        else high = mid;
      }
      return this.recent.slice(low, low + limit);
    }
    const page = await this.feed.store.eventList({ afterSeq: cursor, limit });
    return page.events.map(toStreamEvent);
  }

  /** Be handed each batch of new events, in seq order; returns the unsubscribe. */
  subscribe(listener: (events: readonly StreamEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.off?.();
    this.off = null;
    this.listeners.clear();
  }
}

/** How event streams treat clients that do not keep up. */
export interface SseLimits {
  /** Bytes a stream may have waiting for its client before it waits for the client to read. */
  highWaterBytes: number;
  /** A client that reads nothing of what is waiting for this long is cut off. */
  stallMs: number;
}

/** A stream with nothing to send for this long gets a comment, so idle connections stay open. */
const HEARTBEAT_MS = 15_000;
/** How often the heartbeat looks for quiet streams (a stream is quiet at most 15 + 5 s). */
const HEARTBEAT_CHECK_MS = 5000;
/** Events a stream that is behind reads at a time, and writes to its client as one chunk. */
const STREAM_PAGE = 200;
/**
 * New events go out to the streams at once after a quiet spell, then together at most every
 * 0.1 ms per open stream (1,000 streams: 100 ms; at most 250 ms): a busy feed costs each client one
 * write per interval instead of one per event, so fan-out takes a bounded share of the event loop
 * however many clients listen, and a few clients get each event at once.
 */
const FLUSH_MS_PER_STREAM = 0.1;
const MAX_FLUSH_MS = 250;
/**
 * Bulky events go out early, once a quarter of the memory window's bytes wait: the events waiting
 * for a flush are held apart from the window, so this bounds what they keep in memory.
 */
const URGENT_SHARE = 4;
/** Streams written per turn of the event loop during a flush, so requests are answered between. */
const FLUSH_SLICE = 100;
/** How soon a stream looks again when the store holds events back behind a seq still being written. */
const GAP_RETRY_MS = 20;

/** What a stream sends: the events its query asked for, or null for every event. */
export type StreamFilter = ((event: StreamEvent) => boolean) | null;

/** New events for the streams: those after `after`, in order, and their text for streams without a filter. */
interface Batch {
  after: number;
  events: readonly StreamEvent[];
  last: number;
  /** The text of every event, once for all unfiltered streams. */
  all: Buffer;
}

/**
 * The open event streams of this instance, all written from one EventLog: one subscription, one
 * flush schedule and one heartbeat timer for every client. A flush hands the same batch of new
 * events to every stream that is caught up — one write per client per flush, its text made once
 * for all clients without a filter — in slices, so the API answers between them. A stream that is
 * behind (new with a Last-Event-ID, or waiting for a slow client) reads for itself until it has
 * caught up.
 */
export class EventStreams {
  private readonly streams = new Set<OpenStream>();
  private off: (() => void) | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private flushSlice: NodeJS.Immediate | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  /** A flush is going through the streams, a slice per turn of the event loop. */
  private flushing = false;
  /** Events read since the last flush began, and their bytes. */
  private queue: StreamEvent[] = [];
  private queuedBytes = 0;
  /** Every event up to this seq was handed to the streams (or read by them). */
  private sentSeq = 0;

  constructor(
    readonly log: EventLog,
    readonly limits: SseLimits,
  ) {}

  /** Streams open now. */
  get size(): number {
    return this.streams.size;
  }

  /**
   * Answer `raw` with an event stream from `start` on. The request was hijacked: this owns the
   * response from now on, and ends it when the client goes or the server closes.
   */
  open(
    raw: ServerResponse,
    start: StreamStart,
    filter: StreamFilter,
    log: FastifyBaseLogger,
    session: StreamSession | null = null,
  ) {
    if (!this.off) {
      // Events before this were never queued: streams read them for themselves.
      this.sentSeq = this.log.head;
      this.off = this.log.subscribe((events) => this.enqueue(events));
      this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_CHECK_MS);
      this.heartbeat.unref();
    }
    const stream = new OpenStream(this, raw, start, filter, log, session);
    this.streams.add(stream);
    raw.on('close', () => stream.close());
    raw.on('error', () => stream.close());
    stream.pump();
  }

  /** A stream that closed leaves the set. */
  forget(stream: OpenStream): void {
    this.streams.delete(stream);
  }

  private enqueue(events: readonly StreamEvent[]): void {
    if (events.length === 0) return;
    if (this.streams.size === 0 && !this.flushing) {
      // Nobody to send them to: a stream opened later reads them for itself.
      this.sentSeq = events[events.length - 1]!.seq;
      return;
    }
    for (const event of events) {
      this.queue.push(event);
      this.queuedBytes += event.bytes;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.flushing || this.queue.length === 0) return;
    const interval = Math.min(MAX_FLUSH_MS, this.streams.size * FLUSH_MS_PER_STREAM);
    const due = this.lastFlushAt + interval <= performance.now();
    if (due || this.queuedBytes >= this.log.capacityBytes / URGENT_SHARE) {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = null;
      this.flush();
      return;
    }
    this.flushTimer ??= setTimeout(
      () => {
        this.flushTimer = null;
        this.flush();
      },
      this.lastFlushAt + interval - performance.now(),
    );
  }

  private flush(): void {
    const events = this.queue;
    if (events.length === 0) return;
    this.queue = [];
    this.queuedBytes = 0;
    this.flushing = true;
    this.lastFlushAt = performance.now();
    const batch: Batch = {
      after: this.sentSeq,
      events,
      last: events[events.length - 1]!.seq,
      all: Buffer.from(events.map((event) => event.text ?? '').join('')),
    };
    this.sentSeq = batch.last;
    const streams = [...this.streams];
    const slice = (from: number) => {
      this.flushSlice = null;
      const to = Math.min(from + FLUSH_SLICE, streams.length);
      for (let i = from; i < to; i++) streams[i]!.deliver(batch);
      if (to < streams.length) {
        this.flushSlice = setImmediate(() => slice(to));
        return;
      }
      this.flushing = false;
      this.schedule();
    };
    slice(0);
  }

  private beat(): void {
    const quietSince = Date.now() - HEARTBEAT_MS;
    for (const stream of [...this.streams]) {
      // A session that expired or went idle ends its streams too; sign-out ends them at once.
      if (stream.session && !stream.session.active()) stream.signOut();
      else stream.heartbeat(quietSince);
    }
  }

  /** End the streams opened with this session: it signed out, so they may not read on. */
  endSession(id: string): void {
    for (const stream of [...this.streams]) if (stream.session?.id === id) stream.signOut();
  }

  /** End every open stream (the server is closing: it would otherwise wait for each client). */
  endAll(): void {
    for (const stream of [...this.streams]) stream.end();
  }

  close(): void {
    this.endAll();
    this.off?.();
    this.off = null;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.flushSlice) clearImmediate(this.flushSlice);
    this.flushSlice = null;
    this.flushing = false;
    this.queue = [];
    this.queuedBytes = 0;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}

/** The dashboard session a stream was opened with: it may read only while that is signed in. */
export interface StreamSession {
  id: string;
  active: () => boolean;
}

/** One client's stream: where it is in the feed, and whether its client keeps up. */
class OpenStream {
  private cursor: number;
  private closed = false;
  /** Reading for itself, or waiting for its client to drain: flushes leave it alone meanwhile. */
  private busy = false;
  private again = false;
  private retry: NodeJS.Timeout | undefined;
  private lastWriteAt = Date.now();

  constructor(
    private readonly streams: EventStreams,
    private readonly raw: ServerResponse,
    start: StreamStart,
    private readonly filter: StreamFilter,
    private readonly log: FastifyBaseLogger,
    readonly session: StreamSession | null,
  ) {
    this.cursor = start.cursor;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let preamble = `retry: 2000\n: connected\n\n`;
    // The reset carries the id to resume from: nothing that follows it is missed.
    if (start.reset)
      preamble += `id: ${start.cursor}\nevent: reset\ndata: ${JSON.stringify({ reason: start.reset })}\n\n`;
    this.write(preamble);
  }

  private write(chunk: string | Buffer): void {
    this.raw.write(chunk);
    this.lastWriteAt = Date.now();
  }

  private get waiting(): number {
    return this.raw.writableLength;
  }

  /** A flush: send the batch's events this stream wants, or catch up first if it is behind. */
  deliver(batch: Batch): void {
    if (this.closed || this.cursor >= batch.last) return;
    if (this.busy || this.cursor < batch.after) {
      this.pump();
      return;
    }
    if (this.filter === null && this.cursor === batch.after) {
      if (batch.all.length > 0) this.write(batch.all);
    } else {
      this.writeEvents(batch.events);
    }
    this.cursor = batch.last;
    if (this.waiting > this.streams.limits.highWaterBytes) this.pump();
  }

  /** Write, as one chunk, the events after the cursor that this stream wants. */
  private writeEvents(events: readonly StreamEvent[]): void {
    let text = '';
    for (const event of events) {
      if (event.seq > this.cursor && event.text !== null && (this.filter?.(event) ?? true))
        text += event.text;
    }
    if (text) this.write(text);
  }

  /** A comment when nothing was written since `quietSince`, unless the client is behind anyway. */
  heartbeat(quietSince: number): void {
    if (
      !this.closed &&
      this.lastWriteAt <= quietSince &&
      this.waiting <= this.streams.limits.highWaterBytes
    )
      this.write(`: heartbeat\n\n`);
  }

  /** Wait for a slow client, then read what it missed (coalesced with a pump in progress). */
  pump(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    void this.catchUp();
  }

  private async catchUp(): Promise<void> {
    const log = this.streams.log;
    this.busy = true;
    try {
      do {
        this.again = false;
        if (this.waiting > this.streams.limits.highWaterBytes && !(await this.drained())) {
          if (!this.closed) this.cutOff();
          return;
        }
        while (!this.closed && this.cursor < log.head) {
          const page = await log.after(this.cursor, STREAM_PAGE);
          if (this.closed) return;
          if (page.length === 0) {
            clearTimeout(this.retry);
            this.retry = setTimeout(() => this.pump(), GAP_RETRY_MS);
            break;
          }
          this.writeEvents(page);
          this.cursor = page[page.length - 1]!.seq;
          if (this.waiting > this.streams.limits.highWaterBytes && !(await this.drained())) {
            if (!this.closed) this.cutOff();
            return;
          }
        }
      } while (this.again && !this.closed);
    } catch (err) {
      // The store went away mid-stream: the client reconnects with its Last-Event-ID.
      this.log.warn({ err: errorSummary(err) }, 'event stream ended: the store did not answer');
      this.end();
    } finally {
      this.busy = false;
    }
  }

  /**
   * A client that does not read is never buffered for without bound: past the high-water mark the
   * stream waits for it to drain, and one that does not drain in time is cut off. It reconnects
   * with its Last-Event-ID and gets the rest, or a reset past the retention window.
   */
  private drained(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), this.streams.limits.stallMs);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.raw.off('drain', onDrain);
        this.raw.off('close', onClose);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      this.raw.on('drain', onDrain);
      this.raw.on('close', onClose);
    });
  }

  private cutOff(): void {
    this.log.warn(
      { pendingBytes: this.waiting, lastEventId: this.cursor },
      'event stream closed: the client does not keep up',
    );
    this.close();
    this.raw.destroy();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.streams.forget(this);
  }

  end(): void {
    this.close();
    this.raw.end();
  }

  /** Tell the client its session ended (the dashboard shows the sign-in page), then end. */
  signOut(): void {
    if (this.closed) return;
    this.write(`event: signed-out\ndata: {}\n\n`);
    this.end();
  }
}
