import { Counter, type Metric } from 'prom-client';

/**
 * Counters that parts of an instance increment directly, for what the run event bus does not
 * carry: runs found stuck and alert deliveries. The deck owns them (`deck.counters`), so they count
 * from its start; every `/metrics` registry of the deck exposes them.
 */
export class DeckCounters {
  private readonly runsStuck: Counter<'job'>;
  private readonly alertsSent: Counter<'channel'>;
  private readonly alertsFailed: Counter<'channel'>;

  /** `jobs`: the jobs whose stuck count starts at 0 (so the first stuck run shows as an increase). */
  constructor(jobs: () => Iterable<string> = () => []) {
    this.runsStuck = new Counter({
      name: 'jobdeck_runs_stuck_total',
      help: 'Runs found stuck (running longer than the stuck threshold) by the stuck detection of this instance',
      labelNames: ['job'],
      registers: [],
      collect() {
        for (const job of jobs()) this.inc({ job }, 0);
      },
    });
    this.alertsSent = new Counter({
      name: 'jobdeck_alerts_sent_total',
      help: 'Alert messages this instance delivered, by channel',
      labelNames: ['channel'],
      registers: [],
    });
    this.alertsFailed = new Counter({
      name: 'jobdeck_alerts_failed_total',
      help: 'Alert messages this instance could not deliver (after its retries), by channel',
      labelNames: ['channel'],
      registers: [],
    });
  }

  /** Stuck detection calls this once for each run it finds stuck. */
  runStuck(job: string): void {
    this.runsStuck.inc({ job });
  }

  /** The alerts module calls this for each message a channel accepted. */
  alertSent(channel: string): void {
    this.alertsSent.inc({ channel });
  }

  /** The alerts module calls this for each message a channel did not take, retries exhausted. */
  alertFailed(channel: string): void {
    this.alertsFailed.inc({ channel });
  }

  /** Start both alert counters of these channels at 0, so their first message shows as an increase. */
  alertChannels(channels: Iterable<string>): void {
    for (const channel of channels) {
      this.alertsSent.inc({ channel }, 0);
      this.alertsFailed.inc({ channel }, 0);
    }
  }

  /** The counters, for a registry to expose. */
  metrics(): Metric[] {
    return [this.runsStuck, this.alertsSent, this.alertsFailed];
  }
}
