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
  id: number;
  name: RunEventName;
  runId: string;
  job: string;
  /** The `id:`/`event:`/`data:` lines, ready to write. */
  text: string;
}

function toStreamEvent(event: BusEvent): StreamEvent | null {
  const wire = (runId: string, job: string, data: unknown): StreamEvent => ({
    id: event.seq,
    name: event.name,
    runId,
    job,
    text: `id: ${event.seq}\nevent: ${event.name}\ndata: ${JSON.stringify(data)}\n\n`,
  });
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

/**
 * The recent events of the bus in order, so a client that reconnects with `Last-Event-ID` gets
 * what it missed while the events are still held.
 */
export class EventLog {
  private readonly recent: StreamEvent[] = [];
  private readonly listeners = new Set<(event: StreamEvent) => void>();
  private readonly off: () => void;

  constructor(
    bus: EventBus,
    private readonly capacity = 2000,
  ) {
    this.off = bus.onAny((event) => {
      const streamed = toStreamEvent(event);
      if (!streamed) return;
      this.recent.push(streamed);
      if (this.recent.length > this.capacity) this.recent.shift();
      for (const listener of this.listeners) listener(streamed);
    });
  }

  /** Events after `lastId` still held, or null when some were already dropped. */
  since(lastId: number): StreamEvent[] | null {
    const first = this.recent[0];
    if (first && first.id > lastId + 1) return null;
    return this.recent.filter((e) => e.id > lastId);
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
