/**
 * Three instances, each with its own scheduler, on one PostgreSQL schema and a job that repeats
 * every second: for 30 s of slots, exactly one run per slot — no slot twice, no slot missing
 * between the first and the last. The instances are real OS processes started with the real
 * command line (`node --import tsx bin/jobdeck.js worker --jobs test/helpers/schedule-jobs-module.ts`),
 * so each has its own store, clock and timers; the schema is dropped afterwards and the children
 * are always killed.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  InstanceSet,
  dropSchema,
  medianP95,
  schemaUrl,
  workerReady,
} from './helpers/pg-instances.js';
import { pollUntil } from './helpers/poll.js';
import { PG_URL, freshSchema, postgresReachable } from './helpers/postgres.js';
import { TICK_JOB } from './helpers/schedule-jobs-module.js';

const reachable = await postgresReachable();
const SLOTS = 30;
const MODULE = 'test/helpers/schedule-jobs-module.ts';

const instances = new InstanceSet();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await instances.killAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => instances.killAll());

interface SlotRow {
  run_at: number;
  status: string;
  idempotency_key: string | null;
  trigger: string;
  worker_id: string | null;
  started_at: number | null;
}

describe.skipIf(!reachable)('schedules across instances on PostgreSQL', () => {
  it(`three scheduler instances and a job every 1s: exactly one run per slot over ${SLOTS} s, no duplicates, no gaps`, async () => {
    const schema = freshSchema();
    cleanups.push(() => dropSchema(PG_URL, schema));
    const db = schemaUrl(PG_URL, schema);
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    cleanups.push(() => admin.end());

    const workers = ['s1', 's2', 's3'].map((name) =>
      instances.cli(name, ['worker', '--db', db, '--jobs', MODULE], { JOBDECK_POLL_MS: '100' }),
    );
    const ids = await Promise.all(workers.map(workerReady));
    const upAt = Date.now();

    const query = async () =>
      (
        await admin.query<SlotRow>(
          `SELECT run_at::float8 AS run_at, status, idempotency_key, trigger, worker_id,
                  started_at::float8 AS started_at
           FROM ${pg.escapeIdentifier(schema)}.jobdeck_runs WHERE job = $1 ORDER BY run_at`,
          [TICK_JOB],
        )
      ).rows;
    // Wait until SLOTS slots past the start have come and their runs completed. The deadline is
    // generous (slots come once a second whatever the load; their runs may start late).
    await pollUntil(
      async () => {
        const rows = await query();
        return rows.filter((r) => r.run_at > upAt && r.status === 'completed').length >= SLOTS;
      },
      { timeoutMs: (SLOTS + 90) * 1000, intervalMs: 250, what: `${SLOTS} slots to be run` },
    );
    // Stop the schedulers, then read what they inserted.
    const exits = await Promise.all(workers.map((w) => w.kill('SIGTERM')));
    const rows = await query();

    const slots = rows.map((r) => Number(r.run_at));
    const counts = new Map<number, number>();
    for (const slot of slots) counts.set(slot, (counts.get(slot) ?? 0) + 1);
    const duplicates = [...counts]
      .filter(([, n]) => n > 1)
      .map(([slot, n]) => `${new Date(slot).toISOString()} ×${n}`);
    const distinct = [...counts.keys()].sort((a, b) => a - b);
    const gaps: string[] = [];
    for (let i = 1; i < distinct.length; i++) {
      if (distinct[i]! - distinct[i - 1]! !== 1000)
        gaps.push(
          `${new Date(distinct[i - 1]!).toISOString()} → ${new Date(distinct[i]!).toISOString()}`,
        );
    }
    const ran = rows.filter((r) => r.status === 'completed');
    const byWorker: Record<string, number> = {};
    for (const r of ran) {
      const name = workers[ids.indexOf(r.worker_id!)]?.name ?? r.worker_id!;
      byWorker[name] = (byWorker[name] ?? 0) + 1;
    }
    const lateness = medianP95(ran.map((r) => Number(r.started_at) - Number(r.run_at)));
    console.log(
      `schedule every 1s on 3 instances: ${distinct.length} slots from ${new Date(distinct[0]!).toISOString()} to ${new Date(distinct[distinct.length - 1]!).toISOString()}; ` +
        `duplicates ${duplicates.length}, gaps ${gaps.length}; runs per instance ${JSON.stringify(byWorker)}; ` +
        `start after slot median ${lateness.median} / p95 ${lateness.p95} / max ${lateness.max} ms`,
    );

    expect(exits).toEqual(Array(3).fill({ code: 0, signal: null }));
    expect(distinct.length).toBeGreaterThanOrEqual(SLOTS);
    expect(duplicates).toEqual([]);
    expect(gaps).toEqual([]);
    // Every slot's run came from a schedule, keyed by its slot; all that were due have run.
    for (const r of rows) {
      expect(r.trigger).toBe('schedule');
      expect(r.idempotency_key).toBe(`schedule:${new Date(Number(r.run_at)).toISOString()}`);
    }
    const due = rows.filter((r) => Number(r.run_at) <= upAt + SLOTS * 1000);
    expect(
      due.filter((r) => r.status !== 'completed').map((r) => `${r.run_at} ${r.status}`),
    ).toEqual([]);
    for (const w of workers) expect(w.errorLogs(), w.name).toEqual([]);
  }, 180_000);
});
