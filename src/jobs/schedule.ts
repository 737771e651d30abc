import { Cron } from 'croner';
import { toMs, type Duration } from '../core/duration.js';
import { JobdeckError } from '../core/errors.js';

/** When a job repeats, and the input of the runs the schedule starts (default `{}`). */
export type ScheduleOptions = ({ every: Duration } | { cron: string; timezone?: string }) & {
  input?: unknown;
};

/** A parsed schedule: gives the first slot strictly after a time, and the last one up to a time. */
export interface Schedule {
  readonly description: ScheduleDescription;
  readonly input: unknown;
  nextSlot(after: Date): Date | null;
  latestSlot(atOrBefore: Date): Date | null;
}

export type ScheduleDescription =
  | { kind: 'every'; everyMs: number }
  | { kind: 'cron'; cron: string; timezone: string | null };

export function parseSchedule(options: ScheduleOptions): Schedule {
  if ('every' in options) {
    const everyMs = toMs(options.every, 'schedule.every');
    if (everyMs < 1000) {
      throw new JobdeckError('INVALID_INPUT', 'schedule.every must be at least 1s', {
        details: [{ path: ['schedule', 'every'], message: 'at least 1s' }],
      });
    }
    // Slots are aligned to the epoch, so every instance computes the same ones.
    return {
      description: { kind: 'every', everyMs },
      input: options.input ?? {},
      nextSlot: (after) => new Date((Math.floor(after.getTime() / everyMs) + 1) * everyMs),
      latestSlot: (atOrBefore) => new Date(Math.floor(atOrBefore.getTime() / everyMs) * everyMs),
    };
  }
  let cron: Cron;
  try {
    cron = new Cron(options.cron, { timezone: options.timezone, paused: true });
  } catch (err) {
    throw new JobdeckError(
      'INVALID_INPUT',
      `schedule.cron is not valid: ${(err as Error).message}`,
      {
        details: [{ path: ['schedule', 'cron'], message: (err as Error).message }],
      },
    );
  }
  return {
    description: { kind: 'cron', cron: options.cron, timezone: options.timezone ?? null },
    input: options.input ?? {},
    nextSlot: (after) => cron.nextRun(after),
    // croner looks strictly before its reference.
    latestSlot: (atOrBefore) => cron.previousRuns(1, new Date(atOrBefore.getTime() + 1))[0] ?? null,
  };
}
