import { SYSTEM_PRINCIPAL } from '../core/glossary.js';
import type { Clock } from '../core/clock.js';
import type { JobRegistry } from '../jobs/registry.js';
import type { RunService } from '../runs/service.js';

/** The idempotency key of a schedule slot: one run per slot, whichever instance inserts it first. */
export function scheduleSlotKey(slot: Date): string {
  return `schedule:${slot.toISOString()}`;
}

export interface SchedulerOptions {
  registry: JobRegistry;
  runs: RunService;
  clock: Clock;
  /** How often the next slots are checked. Default 1 s. */
  tickMs?: number;
  onError?: (err: unknown, where: string) => void;
}

/**
 * Keeps the next slot of every enabled repeating job inserted as a `scheduled` run, so it starts
 * on time. Several instances may run it: the slot key makes the inserts idempotent, no leader needed.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private readonly inserted = new Map<string, number>();
  private ticking: Promise<void> | null = null;

  constructor(private readonly options: SchedulerOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.tickMs ?? 1000);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
  }

  /** Insert the next slot of each repeating job, once. */
  tick(): Promise<void> {
    this.ticking ??= this.insertNextSlots().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private async insertNextSlots(): Promise<void> {
    const { registry, runs, clock } = this.options;
    const now = clock.now();
    for (const job of registry.list()) {
      if (!job.schedule) continue;
      const next = job.schedule.nextSlot(now);
      if (!next || this.inserted.get(job.name) === next.getTime()) continue;
      try {
        if (!(await runs.isEnabled(job))) continue;
        // A late tick must not skip a slot: insert every slot after the last one this instance
        // inserted, up to the next one (a few at most; other instances insert the same keys).
        const last = this.inserted.get(job.name);
        let slot: Date | null = last === undefined ? next : job.schedule.nextSlot(new Date(last));
        for (let n = 0; slot && slot.getTime() <= next.getTime() && n < MAX_CATCH_UP; n++) {
          await runs.create({
            job: job.name,
            input: job.schedule.input,
            runAt: slot,
            idempotencyKey: scheduleSlotKey(slot),
            trigger: 'schedule',
            principal: SYSTEM_PRINCIPAL,
          });
          this.inserted.set(job.name, slot.getTime());
          slot = job.schedule.nextSlot(slot);
        }
        this.inserted.set(job.name, next.getTime());
      } catch (err) {
        this.options.onError?.(err, `schedule ${job.name}`);
      }
    }
  }
}

/** Slots a late tick may still insert for one job; older ones are given up. */
const MAX_CATCH_UP = 5;
