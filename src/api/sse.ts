import type { Run } from '../core/run.js';
import type { RunStatus } from '../core/status.js';
import type { EventFeed } from '../events/feed.js';
import { FEED_EVENT_NAMES, type FeedEventName, type StoredEvent } from '../store/store.js';
import { logDto, runDto } from './schemas.js';

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
  private readonly listeners = new Set<() => void>();
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private off: (() => void) | null = null;
  private starting: Promise<void> | null = null;

  constructor(
    private readonly feed: EventFeed,
    limits: EventLogLimits = {},
  ) {
    this.maxEvents = limits.maxEvents ?? 2000;
    this.maxBytes = limits.maxBytes ?? 2 * 1024 * 1024;
  }

  /** Start following the feed (idempotent). */
  start(): Promise<void> {
    this.starting ??= this.open().catch((err: unknown) => {
      this.starting = null;
      throw err;
    });
    return this.starting;
  }

  private async open(): Promise<void> {
    await this.feed.start();
    // No await between the two: nothing read in between is missed.
    this.recentAfter = this.feed.head;
    this.off = this.feed.subscribe((events) => this.append(events));
  }

  private append(events: StoredEvent[]): void {
    for (const event of events) {
      if (event.seq <= this.recentAfter) continue;
      const streamed = toStreamEvent(event);
      this.recent.push(streamed);
      this.bytes += streamed.bytes;
    }
    while (this.recent.length > this.maxEvents || this.bytes > this.maxBytes) {
      const dropped = this.recent.shift()!;
      this.bytes -= dropped.bytes;
      this.recentAfter = dropped.seq;
    }
    for (const listener of this.listeners) listener();
  }

  /** The seq of the newest event read. */
  get head(): number {
    return this.feed.head;
  }

  get heldBytes(): number {
    return this.bytes;
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

  /** Be told when the head moves; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  close(): void {
    this.off?.();
    this.off = null;
    this.listeners.clear();
  }
}
