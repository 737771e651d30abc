import { hasErrorCode } from '../core/errors.js';
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
 * Missed slots give at most one run, for the latest of them (docs/concepts/lifecycle.md, Schedules).
 */
export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  /** Per job: every slot up to this time was inserted by this instance, or given up on purpose. */
  private readonly covered = new Map<string, number>();
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
      const schedule = job.schedule;
      if (!schedule) continue;
      const next = schedule.nextSlot(now);
      const covered = this.covered.get(job.name);
      if (!next || (covered !== undefined && covered >= next.getTime())) continue;
      try {
        if (!(await runs.isEnabled(job))) {
          // Slots that pass while a job is disabled are skipped on purpose, never caught up.
          this.covered.set(job.name, Math.max(covered ?? 0, now.getTime()));
          continue;
        }
        // Catch-up: slots missed since the last tick (a late tick, a stalled process) collapse
        // into one run, for the latest of them; the next slot is inserted whatever happened.
        const slots = [next];
        if (covered !== undefined) {
          const missed = schedule.latestSlot(now);
          if (missed && missed.getTime() > covered) slots.unshift(missed);
        }
        for (const slot of slots) {
          await runs.create({
            job: job.name,
            input: schedule.input,
            runAt: slot,
            idempotencyKey: scheduleSlotKey(slot),
            trigger: 'schedule',
            principal: SYSTEM_PRINCIPAL,
          });
          this.covered.set(job.name, slot.getTime());
        }
      } catch (err) {
        // An exclusive job's run is still active: its slot is inserted at a tick after it ends.
        if (hasErrorCode(err, 'ALREADY_RUNNING')) continue;
        this.options.onError?.(err, `schedule ${job.name}`);
      }
    }
  }
}
