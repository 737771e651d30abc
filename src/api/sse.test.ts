import { describe, expect, it } from 'vitest';
import { EventBus } from '../events/bus.js';
import { EventLog } from './sse.js';

/** A run.log event carrying `bytes` of data, as a run's log entry with a large payload does. */
function emitLog(bus: EventBus, seq: number, bytes = 100): void {
  bus.emit('run.log', {
    runId: 'run-1',
    job: 'email',
    entry: {
      runId: 'run-1',
      seq,
      level: 'info',
      message: 'line',
      data: { blob: 'x'.repeat(bytes) },
      time: new Date(0),
    },
  });
}

describe('EventLog', () => {
  it('holds no more than maxBytes of event text; a client behind the window gets a reset', () => {
    const bus = new EventBus();
    const log = new EventLog(bus, { maxEvents: 2000, maxBytes: 50_000 });
    let firstId: string | undefined;
    const off = log.subscribe((event) => (firstId ??= event.id));
    for (let i = 1; i <= 100; i++) emitLog(bus, i, 5_000);
    off();
    expect(log.heldBytes).toBeLessThanOrEqual(50_000);
    expect(log.heldBytes).toBeGreaterThan(40_000);
    expect(log.since(firstId!)).toEqual({ reset: 'expired' });
    log.close();
  });

  it('replays what followed a known id; an id of another process or from the future is a reset', () => {
    const bus = new EventBus();
    const log = new EventLog(bus);
    const ids: string[] = [];
    const off = log.subscribe((event) => ids.push(event.id));
    for (let i = 1; i <= 5; i++) emitLog(bus, i);
    off();
    const replay = log.since(ids[1]!);
    expect('events' in replay && replay.events.map((e) => e.id)).toEqual(ids.slice(2));
    expect(log.since(ids[4]!)).toEqual({ events: [] });

    // A restarted server counts from 1 again: the old process's ids must not look familiar.
    const restarted = new EventLog(bus);
    expect(restarted.since(ids[1]!)).toEqual({ reset: 'unknown' });
    expect(restarted.since('not an id we give out')).toEqual({ reset: 'unknown' });
    const ahead = ids[4]!.replace(/\d+$/, (n) => String(Number(n) + 10));
    expect(log.since(ahead)).toEqual({ reset: 'unknown' });
    log.close();
    restarted.close();
  });
});
