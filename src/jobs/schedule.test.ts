import { describe, expect, it } from 'vitest';
import { parseSchedule } from './schedule.js';

describe('schedules', () => {
  it('aligns `every` slots to the epoch so every instance computes the same ones', () => {
    const schedule = parseSchedule({ every: '1h' });
    expect(schedule.nextSlot(new Date('2030-01-01T10:20:00Z'))).toEqual(
      new Date('2030-01-01T11:00:00Z'),
    );
    expect(schedule.nextSlot(new Date('2030-01-01T11:00:00Z'))).toEqual(
      new Date('2030-01-01T12:00:00Z'),
    );
  });

  it('reads cron in a time zone', () => {
    const schedule = parseSchedule({ cron: '0 3 * * *', timezone: 'Europe/Berlin' });
    // 03:00 in Berlin is 02:00 UTC in winter (CET) and 01:00 UTC in summer (CEST).
    expect(schedule.nextSlot(new Date('2030-01-10T12:00:00Z'))).toEqual(
      new Date('2030-01-11T02:00:00Z'),
    );
    expect(schedule.nextSlot(new Date('2030-07-10T12:00:00Z'))).toEqual(
      new Date('2030-07-11T01:00:00Z'),
    );
  });

  it('gives the latest slot at or before a time, for `every` and cron alike', () => {
    for (const schedule of [parseSchedule({ every: '1h' }), parseSchedule({ cron: '0 * * * *' })]) {
      expect(schedule.latestSlot(new Date('2030-01-01T11:00:00Z'))).toEqual(
        new Date('2030-01-01T11:00:00Z'),
      );
      expect(schedule.latestSlot(new Date('2030-01-01T10:59:59.999Z'))).toEqual(
        new Date('2030-01-01T10:00:00Z'),
      );
    }
  });

  it('refuses bad schedules with the field', () => {
    expect(() => parseSchedule({ cron: 'not a cron' })).toThrow(/schedule.cron/);
    expect(() => parseSchedule({ every: '10ms' })).toThrow(/at least 1s/);
  });
});
