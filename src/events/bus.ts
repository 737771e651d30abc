import { EventEmitter } from 'node:events';
import type { CancelMode } from '../core/cancellation.js';
import type { Run, StoredLogEntry } from '../core/run.js';

/** Everything that happens to runs in this process; SSE, metrics and alerts read only this. */
export interface RunEvents {
  'run.created': { run: Run };
  'run.started': { run: Run };
  'run.progress': { run: Pick<Run, 'id' | 'job' | 'progress' | 'items'> };
  'run.log': { runId: string; job: string; entry: StoredLogEntry };
  'run.cancelling': { run: Run };
  'run.finished': { run: Run };
  /** A retry was scheduled after a failed attempt, or the run was released or rescued. */
  'run.retrying': { run: Run };
  /** The run was paused: held before it started, or its attempt stopped at a checkpoint. */
  'run.paused': { run: Run };
  /** A paused run was resumed, or a waiting one's children ended: pending again. */
  'run.resumed': { run: Run };
  /** The run's handler suspended it until the child runs it waits for end. */
  'run.waiting': { run: Run };
  /** The run's attempt ran past its job's stuckAfter (marked by this instance's maintenance). */
  'run.stuck': { run: Run };
  /** A cancel reached the worker that executes the run. */
  'run.cancel_delivered': {
    runId: string;
    job: string;
    mode: CancelMode;
    requestedAt: Date;
    at: Date;
  };
}

/** The name of an event of the bus: `run.created`, `run.progress`, `run.finished`… */
export type RunEventName = keyof RunEvents;
export const RUN_EVENT_NAMES: readonly RunEventName[] = [
  'run.created',
  'run.started',
  'run.progress',
  'run.log',
  'run.cancelling',
  'run.finished',
  'run.retrying',
  'run.paused',
  'run.resumed',
  'run.waiting',
  'run.stuck',
  'run.cancel_delivered',
];

/** A typed, synchronous, in-process event bus. A failing listener never breaks the emitter. */
export class EventBus {
  private readonly emitter = new EventEmitter({ captureRejections: false });
  private sequence = 0;

  constructor() {
    // SSE clients each add listeners; the bound is theirs, not the emitter's.
    this.emitter.setMaxListeners(0);
  }

  emit<E extends RunEventName>(name: E, payload: RunEvents[E]): void {
    const envelope = { seq: ++this.sequence, name, payload };
    for (const listener of this.emitter.listeners(name)) {
      try {
        (listener as (event: typeof envelope) => void)(envelope);
      } catch {
        // A listener's failure is its own; the run goes on.
      }
    }
    for (const listener of this.emitter.listeners('*')) {
      try {
        (listener as (event: typeof envelope) => void)(envelope);
      } catch {
        // As above.
      }
    }
  }

  on<E extends RunEventName>(name: E, listener: (event: BusEvent<E>) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }

  /** Every event, in order; returns the unsubscribe. */
  onAny(listener: (event: BusEvent) => void): () => void {
    this.emitter.on('*', listener);
    return () => this.emitter.off('*', listener);
  }

  /** Resolve with the first event of that name matching `predicate`; for tests and tools. */
  waitFor<E extends RunEventName>(
    name: E,
    predicate: (payload: RunEvents[E]) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<RunEvents[E]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on(name, (event) => {
        if (!predicate(event.payload)) return;
        clearTimeout(timer);
        off();
        resolve(event.payload);
      });
    });
  }
}

/** What a listener of the bus gets: the event's name, its payload, and its order in this process. */
export type BusEvent<E extends RunEventName = RunEventName> = {
  [K in E]: { seq: number; name: K; payload: RunEvents[K] };
}[E];
