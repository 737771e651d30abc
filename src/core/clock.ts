/** Time, injected: the runtime and the stores never read the system clock directly. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to; for tests. */
export class TestClock implements Clock {
  private current: number;

  constructor(start: Date | number = Date.UTC(2030, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(ms: number): Date {
    this.current += ms;
    return this.now();
  }

  set(time: Date | number): void {
    this.current = typeof time === 'number' ? time : time.getTime();
  }
}

/**
 * The system clock corrected by an offset to a reference clock (the database's), so that
 * instances on many hosts compute leases and due times on one time base.
 */
export class OffsetClock implements Clock {
  private offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  /**
   * Measure the offset: `read` returns the reference time; half the round trip is assumed each way.
   * The sample with the shortest round trip of `samples` wins: the first read of a fresh pool also
   * opens a connection, which would skew the offset by half the connect time — enough for a worker
   * woken by a push to find a just-created run not yet due on its clock.
   */
  async sync(read: () => Promise<Date>, samples = 3): Promise<number> {
    let best: { roundTrip: number; offset: number } | null = null;
    for (let i = 0; i < samples; i++) {
      const sent = Date.now();
      const reference = (await read()).getTime();
      const received = Date.now();
      const sample = { roundTrip: received - sent, offset: reference - (sent + received) / 2 };
      if (!best || sample.roundTrip < best.roundTrip) best = sample;
    }
    if (best) this.offsetMs = best.offset;
    return this.offsetMs;
  }

  get offset(): number {
    return this.offsetMs;
  }
}
