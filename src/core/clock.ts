/** Time, injected: the runtime and the stores never read the system clock directly. */
export interface Clock {
  now(): Date;
  /**
   * The time the store compares leases, due times and retention with. A clock that follows its
   * host (the default) has none: a store with a clock of its own (PostgreSQL) then uses the
   * database's, so hosts whose clocks differ still agree. A test clock gives its time, so that
   * it reaches the SQL.
   */
  storeNow?(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** What to pass as a store call's comparison time: null lets the store use its own clock. */
export function storeTime(clock: Clock): Date | null {
  return clock.storeNow?.() ?? null;
}

/** A clock that only moves when told to; for tests. */
export class TestClock implements Clock {
  private current: number;

  constructor(start: Date | number = Date.UTC(2030, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  storeNow(): Date {
    return this.now();
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
 * The system clock corrected by an offset to a reference clock (the database's), sampled now and
 * then, so that the times instances on many hosts write (creation, due times, logs) are close to
 * one time base. Comparisons that must agree exactly (leases, rescue, claims) are made by the
 * store on its own clock instead: a host's clock may step between two samples.
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
