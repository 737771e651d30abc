import { Once } from '../core/once.js';
import type { EventWatch, Store, StoredEvent } from '../store/store.js';
import type { EventBus } from './bus.js';

export interface EventFeedOptions {
  store: Store;
  /** Writes of this process wake the reader at once, whatever the store can push. */
  bus?: EventBus;
  /** How often to look while the store's watch is healthy, in case a push was missed. Default 2 s. */
  safetyPollMs?: number;
  /** How often to look without a healthy watch. Default 250 ms. */
  pollMs?: number;
  /** Events read per query. Default 500. */
  pageSize?: number;
  onError?: (err: unknown, where: string) => void;
}

/** How soon to look again when the store held events back behind a seq still being written. */
const GAP_RETRY_MS = 20;
/**
 * A watch may fire before the commit it reports is readable (SQLite writes the log, then makes the
 * frames visible in shared memory, which no file watch sees): one more look shortly after.
 */
const RECHECK_MS = 15;

/**
 * The tail of the store's event feed, read once per process for every reader of it (event
 * streams, alerts): woken by the store's watch (NOTIFY, a file watch) and by this process's own
 * writes, with a poll as fallback. Listeners get each new batch in seq order, exactly once.
 */
export class EventFeed {
  private readonly listeners = new Set<(events: StoredEvent[]) => void>();
  private readonly options: Required<Omit<EventFeedOptions, 'bus' | 'onError'>> &
    Pick<EventFeedOptions, 'bus' | 'onError'>;
  private watch: EventWatch | null = null;
  private offBus: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly starting = new Once(() => this.open());
  private reading = false;
  private again = false;
  private stopped = false;
  private recheck = false;
  /** Every event up to this seq has been handed to the listeners (or came before the feed started). */
  private headSeq = 0;

  constructor(options: EventFeedOptions) {
    this.options = { safetyPollMs: 2000, pollMs: 250, pageSize: 500, ...options };
  }

  /** The seq the feed has read up to. */
  get head(): number {
    return this.headSeq;
  }

  get store(): Store {
    return this.options.store;
  }

  /** Start reading from the newest event (idempotent). */
  start(): Promise<void> {
    return this.starting.run();
  }

  private async open(): Promise<void> {
    const { store, bus } = this.options;
    this.stopped = false;
    this.headSeq = (await store.eventBounds()).last;
    if (store.eventWatch) {
      try {
        this.watch = await store.eventWatch(() => {
          this.recheck = true;
          this.wake();
        });
      } catch (err) {
        this.options.onError?.(err, 'event feed watch');
      }
    }
    this.offBus = bus?.onAny(() => this.wake()) ?? null;
    this.schedule();
  }

  /** Hear of each batch of new events; returns the unsubscribe. */
  subscribe(listener: (events: StoredEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Read now (coalesced with a read in progress). */
  wake(): void {
    if (this.stopped || !this.starting.begun) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    void this.read();
  }

  private async read(): Promise<void> {
    this.reading = true;
    let waiting = false;
    try {
      do {
        this.again = false;
        for (;;) {
          const page = await this.options.store.eventList({
            afterSeq: this.headSeq,
            limit: this.options.pageSize,
          });
          waiting = page.waiting;
          if (this.stopped || page.events.length === 0) break;
          this.headSeq = page.events[page.events.length - 1]!.seq;
          for (const listener of this.listeners) {
            try {
              listener(page.events);
            } catch (err) {
              this.options.onError?.(err, 'event feed listener');
            }
          }
          if (page.events.length < this.options.pageSize) break;
        }
      } while (this.again && !this.stopped);
    } catch (err) {
      // The store is down: the next poll tries again.
      this.options.onError?.(err, 'event feed');
    } finally {
      this.reading = false;
    }
    const recheck = this.recheck;
    this.recheck = false;
    this.schedule(waiting ? GAP_RETRY_MS : recheck ? RECHECK_MS : undefined);
  }

  private schedule(delayMs?: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const { safetyPollMs, pollMs } = this.options;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.wake();
      },
      delayMs ?? (this.watch?.healthy ? safetyPollMs : pollMs),
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.offBus?.();
    this.offBus = null;
    const watch = this.watch;
    this.watch = null;
    this.starting.reset();
    this.listeners.clear();
    await watch?.close();
  }
}
