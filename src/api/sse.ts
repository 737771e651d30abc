import { randomBytes } from 'node:crypto';
import type { BusEvent, EventBus, RunEventName } from '../events/bus.js';
import { logDto, runDto } from './schemas.js';

/** The events SSE clients see (internal ones such as cancel delivery are not streamed). */
export const STREAMED_EVENTS: readonly RunEventName[] = [
  'run.created',
  'run.started',
  'run.progress',
  'run.log',
  'run.cancelling',
  'run.finished',
];

/** A streamed event, kept as its wire text: the log of recent events holds strings, not run objects. */
export interface StreamEvent {
  /** `<epoch>-<seq>`: the epoch tells this process's ids from those of an earlier one. */
  id: string;
  seq: number;
  name: RunEventName;
  runId: string;
  job: string;
  /** The `id:`/`event:`/`data:` lines, ready to write. */
  text: string;
  bytes: number;
}

function toStreamEvent(event: BusEvent, epoch: string): StreamEvent | null {
  const wire = (runId: string, job: string, data: unknown): StreamEvent => {
    const id = `${epoch}-${event.seq}`;
    const text = `id: ${id}\nevent: ${event.name}\ndata: ${JSON.stringify(data)}\n\n`;
    return {
      id,
      seq: event.seq,
      name: event.name,
      runId,
      job,
      text,
      bytes: Buffer.byteLength(text),
    };
  };
  if (!STREAMED_EVENTS.includes(event.name)) return null;
  switch (event.name) {
    case 'run.log': {
      const { runId, job, entry } = event.payload;
      return wire(runId, job, { runId, job, entry: logDto(entry) });
    }
    case 'run.progress': {
      const { run } = event.payload;
      return wire(run.id, run.job, { run });
    }
    case 'run.created':
    case 'run.started':
    case 'run.cancelling':
    case 'run.finished': {
      const { run } = event.payload;
      return wire(run.id, run.job, { run: runDto(run) });
    }
    default:
      return null;
  }
}

export interface EventLogLimits {
  /** Events held for replay at most. Default 2,000. */
  maxEvents?: number;
  /** Bytes of event text held for replay at most (events carry whole runs). Default 2 MiB. */
  maxBytes?: number;
}

/**
 * What a client that reconnects with `Last-Event-ID` gets: the events it missed, or a reset when
 * they are gone (`expired`) or the id is not one this process gave out (`unknown`: another
 * process before a restart, or garbage).
 */
export type Replay = { events: StreamEvent[] } | { reset: 'expired' | 'unknown' };

/**
 * The recent events of the bus in order, so a client that reconnects with `Last-Event-ID` gets
 * what it missed while the events are still held. Bounded in count and in bytes.
 */
export class EventLog {
  private readonly epoch = randomBytes(4).toString('hex');
  private readonly recent: StreamEvent[] = [];
  private readonly listeners = new Set<(event: StreamEvent) => void>();
  private readonly off: () => void;
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private bytes = 0;
  private lastSeq = 0;
  private lastDroppedSeq = 0;

  constructor(bus: EventBus, limits: EventLogLimits = {}) {
    this.maxEvents = limits.maxEvents ?? 2000;
    this.maxBytes = limits.maxBytes ?? 2 * 1024 * 1024;
    this.off = bus.onAny((event) => {
      const streamed = toStreamEvent(event, this.epoch);
      if (!streamed) return;
      this.recent.push(streamed);
      this.bytes += streamed.bytes;
      this.lastSeq = streamed.seq;
      while (this.recent.length > this.maxEvents || this.bytes > this.maxBytes) {
        const dropped = this.recent.shift()!;
        this.bytes -= dropped.bytes;
        this.lastDroppedSeq = dropped.seq;
      }
      for (const listener of this.listeners) listener(streamed);
    });
  }

  /**
   * Bytes a stream may have waiting for its client before it is closed: more than a whole
   * replay, so a reconnecting client is never cut off by its own replay.
   */
  get maxPendingBytes(): number {
    return 2 * this.maxBytes;
  }

  get heldBytes(): number {
    return this.bytes;
  }

  /** The id of the latest event, for a client to resume from after a reset. */
  get lastId(): string {
    return `${this.epoch}-${this.lastSeq}`;
  }

  /** What a client that last saw `lastEventId` missed, or a reset. */
  since(lastEventId: string): Replay {
    const match = /^([0-9a-f]{8})-(\d{1,15})$/.exec(lastEventId);
    if (!match || match[1] !== this.epoch) return { reset: 'unknown' };
    const seq = Number(match[2]);
    if (seq > this.lastSeq) return { reset: 'unknown' };
    if (seq < this.lastDroppedSeq) return { reset: 'expired' };
    return { events: this.recent.filter((e) => e.seq > seq) };
  }

  subscribe(listener: (event: StreamEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  close(): void {
    this.off();
    this.listeners.clear();
  }
}
