/**
 * An instance's registration in process, on real SQLite files: its role from its options, beats
 * that survive a store that refuses them (reported, then resumed), and retention of instances
 * gone without a clean stop.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { TestClock } from '../src/core/clock.js';
import { INSTANCE_REMOVED_AFTER_BEATS } from '../src/core/instance.js';
import { Jobdeck, type JobdeckOptions } from '../src/jobdeck.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { EVENT_DEADLINE_MS, pollUntil } from './helpers/poll.js';
import { tempDbPath } from './helpers/temp.js';

const defer = cleanupAfterEach();

function freshStore(options: { busyTimeoutMs?: number } = {}): {
  store: SqliteStore;
  path: string;
} {
  const { path, cleanup } = tempDbPath();
  const store = new SqliteStore({ path, ...options });
  defer(cleanup);
  defer(() => store.close());
  return { store, path };
}

async function started(options: JobdeckOptions): Promise<Jobdeck> {
  const deck = new Jobdeck({ scheduler: false, maintenance: false, ...options });
  defer(() => deck.stop({ graceMs: 1000 }));
  return deck.start();
}

describe('instance registration', () => {
  it('a library instance is `both` with a worker and `api` without; its id is its worker id', async () => {
    const { store } = freshStore();
    const both = await started({ store, worker: { concurrency: 4 } });
    const api = await started({ store, worker: false });
    expect(both.instances.id).toBe(both.worker!.id);
    const listed = await store.instanceList({ now: null });
    expect(listed.map((i) => [i.id, i.role, i.concurrency, i.heartbeatMs])).toEqual([
      [both.instances.id, 'both', 4, 5000],
      [api.instances.id, 'api', null, 5000],
    ]);
  });

  it('refuses a role that contradicts the worker option, and a heartbeat that is not a positive integer', () => {
    const { store } = freshStore();
    const refused = (options: Partial<JobdeckOptions>) => {
      try {
        new Jobdeck({ store, ...options });
      } catch (err) {
        return [(err as { code?: string }).code, (err as Error).message];
      }
      return null;
    };
    expect(refused({ worker: false, instance: { role: 'worker' } })).toEqual([
      'INVALID_INPUT',
      'instance.role worker executes runs: it needs a worker',
    ]);
    expect(refused({ instance: { role: 'api' } })).toEqual([
      'INVALID_INPUT',
      'instance.role api executes no runs: give worker: false',
    ]);
    expect(refused({ worker: false, instance: { heartbeatMs: 0 } })?.[0]).toBe('INVALID_INPUT');
    expect(refused({ worker: false, instance: { heartbeatMs: 1.5 } })?.[0]).toBe('INVALID_INPUT');
  });

  it('beats the store refuses are reported, and beating resumes when it answers again', async () => {
    const { store, path } = freshStore({ busyTimeoutMs: 20 });
    const errors: { code: unknown; where: string }[] = [];
    const deck = await started({
      store,
      worker: false,
      instance: { heartbeatMs: 50 },
      onError: (err, where) => errors.push({ code: (err as { code?: unknown }).code, where }),
    });
    const lastSeen = async () =>
      (await store.instanceList({ now: null })).find((i) => i.id === deck.instances.id)!.lastSeenAt;

    // Another process holds the write lock: every beat is refused as busy meanwhile.
    const blocker = new Database(path);
    defer(() => blocker.close());
    blocker.exec('BEGIN IMMEDIATE');
    await pollUntil(() => errors.some((e) => e.where === 'instance-heartbeat'), {
      timeoutMs: EVENT_DEADLINE_MS,
      what: 'a refused beat to be reported',
    });
    expect(errors.find((e) => e.where === 'instance-heartbeat')!.code).toBe('SQLITE_BUSY');
    const before = (await lastSeen()).getTime();
    blocker.exec('COMMIT');
    const releasedAt = Date.now();
    await pollUntil(async () => (await lastSeen()).getTime() >= releasedAt, {
      timeoutMs: EVENT_DEADLINE_MS,
      what: 'a beat after the lock was released',
    });
    expect((await lastSeen()).getTime()).toBeGreaterThan(before);
  });

  it('maintenance deletes instances gone without a clean stop, past 10 of their heartbeats', async () => {
    const { store } = freshStore();
    const clock = new TestClock(Date.UTC(2030, 0, 1));
    const deck = await started({ store, clock, worker: false, maintenance: {} });
    const crashed = {
      ...deck.instances.info,
      id: 'crashed',
      heartbeatMs: 1000,
      startedAt: clock.now(),
    };
    await store.instanceBeat({ instance: crashed, now: clock.now() });
    clock.advance(INSTANCE_REMOVED_AFTER_BEATS * 1000);
    await deck.maintenance!.retention();
    // Not yet: exactly 10 beats missed.
    expect((await store.instanceList({ now: new Date(0) })).map((i) => i.id)).toContain('crashed');
    clock.advance(1);
    await deck.maintenance!.retention();
    const remaining = await store.instanceList({ now: new Date(0) });
    expect(remaining.map((i) => i.id)).toEqual([deck.instances.id]);
  });
});
