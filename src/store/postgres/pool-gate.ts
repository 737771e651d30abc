import { JobdeckError } from '../../core/errors.js';

interface Waiter {
  grant: () => void;
  refuse: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Admission to the connection pool: at most `size` requests hold a connection, the rest wait in
 * order. The driver's own queue would fail every waiter after the connect time-out even while the
 * database answers, so a burst of creates larger than the pool failed instead of waiting. Here a
 * waiter is refused only when the queue is full, when it waited `waitMs`, or when the database
 * could not be reached (then every waiter at once: they would each wait for the same failure).
 */
export class PoolGate {
  private held = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly options: { size: number; maxWaiting: number; waitMs: number }) {}

  /** Resolves with the release of the slot once one is free. */
  acquire(): Promise<() => void> {
    if (this.held < this.options.size) return Promise.resolve(this.grant());
    if (this.waiting.length >= this.options.maxWaiting)
      return Promise.reject(
        busy(`${this.waiting.length} requests are already waiting for a database connection`),
      );
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => resolve(this.grant()),
        refuse: reject,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          reject(busy(`no database connection was free for ${this.options.waitMs} ms`));
        }, this.options.waitMs),
      };
      waiter.timer.unref();
      this.waiting.push(waiter);
    });
  }

  /** The database could not be reached: every waiter learns it now. */
  refuseWaiting(err: Error): void {
    for (const waiter of this.waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.refuse(err);
    }
  }

  private grant(): () => void {
    this.held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      const next = this.waiting.shift();
      if (next) {
        clearTimeout(next.timer);
        next.grant();
      }
    };
  }
}

function busy(why: string): JobdeckError {
  return new JobdeckError('STORE_UNAVAILABLE', `The store is busy: ${why}.`);
}
