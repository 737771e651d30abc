/**
 * PostgreSQL stopped for 20 s under a steady trickle of runs, then started again — on a PRIVATE
 * cluster (test/helpers/pg-cluster.ts), so the shared server is never stopped. Three instances
 * started with the real command line (`serve --no-worker` and two `worker`s) must ride it out:
 *
 * - no instance exits;
 * - while the database is down the API answers 503 at once (each request within a few seconds,
 *   never hanging), and runs asked for meanwhile are refused — not created, not counted;
 * - no run is lost: every run the API accepted (202) ends `completed`, including those that were
 *   executing when the server went away;
 * - claiming resumes within 10 s of the server being back.
 *
 * The outage itself lasts 20 s by design (a timed perturbation, not a synchronisation); every
 * other wait is on HTTP answers, the ledger or the store, with a deadline.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PrivateCluster, privateClusterAvailable } from './helpers/pg-cluster.js';
import { LEDGER_JOB, readLedger } from './helpers/ledger-jobs.js';
import {
  Api,
  InstanceSet,
  LEDGER_JOBS_MODULE,
  freePort,
  medianP95,
  schemaUrl,
  serveReady,
  workerReady,
} from './helpers/pg-instances.js';
import { pollUntil } from './helpers/poll.js';
import { freshSchema } from './helpers/postgres.js';
import { tempDir } from './helpers/temp.js';

const available = privateClusterAvailable();

const OUTAGE_MS = 20_000;
/** A request while the database is down must be answered within this (no hanging). */
const ANSWER_WITHIN_MS = 5000;
/** Claiming must resume within this of the server being back. */
const RESUME_WITHIN_MS = 10_000;

const instances = new InstanceSet();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  // Children first (always, even when the test failed), then the cluster and folders.
  await instances.killAll();
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
});
afterAll(() => instances.killAll());

interface Attempted {
  kind: 'create' | 'health';
  sentAt: number;
  answeredAt: number;
  /** HTTP status, or `error` when no answer came (time-out, connection refused). */
  status: number | 'error';
  error?: string;
  code?: string;
  runId?: string;
}

describe.skipIf(!available)('PostgreSQL stopped for 20 s under load (private cluster)', () => {
  it('no instance exits, the API answers 503 while it is down, no accepted run is lost, claiming resumes within 10 s', async () => {
    const cluster = await PrivateCluster.create();
    cleanups.push(() => cluster.destroy());
    const { dir, cleanup } = tempDir('jobdeck-outage-');
    cleanups.push(cleanup);
    const ledgerPath = join(dir, 'ledger.jsonl');
    const schema = freshSchema();
    const db = schemaUrl(cluster.url, schema);
    const port = await freePort();
    const token = randomBytes(16).toString('hex');

    const api = instances.cli(
      'api',
      ['serve', '--no-worker', '--db', db, '--jobs', LEDGER_JOBS_MODULE],
      {
        JOBDECK_TOKENS: `tester:admin:${token}`,
        JOBDECK_PORT: String(port),
      },
    );
    const workers = ['w1', 'w2'].map((name) =>
      instances.cli(name, ['worker', '--db', db, '--jobs', LEDGER_JOBS_MODULE], {
        JOBDECK_LEASE_MS: '2000',
        JOBDECK_HEARTBEAT_MS: '500',
        JOBDECK_POLL_MS: '200',
        JOBDECK_TEST_LEDGER: ledgerPath,
        JOBDECK_TEST_WORKER: name,
      }),
    );
    await Promise.all([serveReady(api), ...workers.map(workerReady)]);
    const all = [api, ...workers];
    const http = new Api(`http://127.0.0.1:${port}`, token);

    // The trickle: a run asked for every 250 ms (each 300 ms of work), a health probe with each.
    const attempts: Attempted[] = [];
    let trickling = true;
    const ask = async (kind: Attempted['kind']) => {
      const sentAt = Date.now();
      try {
        const answer =
          kind === 'create'
            ? await http.post(
                `/api/jobs/${LEDGER_JOB}/runs`,
                { input: { steps: 1, stepMs: 300 } },
                15_000,
              )
            : await http.get('/healthz', 15_000);
        attempts.push({
          kind,
          sentAt,
          answeredAt: Date.now(),
          status: answer.status,
          code: answer.body?.error ?? answer.body?.status,
          ...(answer.status === 202 ? { runId: answer.body.run.id as string } : {}),
        });
      } catch (err) {
        attempts.push({
          kind,
          sentAt,
          answeredAt: Date.now(),
          status: 'error',
          error: String(err),
        });
      }
    };
    const trickle = (async () => {
      const inFlight: Promise<void>[] = [];
      while (trickling) {
        inFlight.push(ask('create'), ask('health'));
        // Pacing of the load, not a synchronisation.
        await delay(250);
      }
      await Promise.all(inFlight);
    })();
    const accepted = () => attempts.filter((a) => a.kind === 'create' && a.status === 202);

    try {
      // Steady state: runs are accepted and complete.
      await pollUntil(
        () => readLedger(ledgerPath).filter((line) => line.event === 'end').length >= 5,
        { timeoutMs: 20_000, what: 'five runs to complete before the outage' },
      );

      const stopAsked = Date.now();
      await cluster.stop('fast');
      const downAt = Date.now();
      // The outage: 20 s by design. Meanwhile the API must keep answering, with 503.
      await pollUntil(
        () =>
          attempts.filter((a) => a.sentAt >= downAt && a.kind === 'create' && a.status === 503)
            .length >= 3 || undefined,
        {
          timeoutMs: OUTAGE_MS,
          intervalMs: 50,
          what: 'the API to answer 503 while the database is down',
        },
      );
      await delay(Math.max(0, downAt + OUTAGE_MS - Date.now()));
      const startAsked = Date.now();
      await cluster.start();
      const upAt = Date.now();

      // Claiming resumes: a handler starts after the server is back.
      const firstStart = await pollUntil(
        () => readLedger(ledgerPath).find((line) => line.event === 'start' && line.t >= upAt),
        { timeoutMs: 30_000, intervalMs: 25, what: 'a run to be claimed after the restart' },
      );
      const resumedMs = firstStart.t - upAt;
      // And new runs are accepted again (a few, so the trickle is steady again).
      await pollUntil(() => accepted().filter((a) => a.sentAt >= upAt).length >= 4 || undefined, {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: 'runs to be accepted again after the restart',
      });
      trickling = false;
      await trickle;

      // Every accepted run completes (those cut by the outage on a later attempt).
      const ids = accepted().map((a) => a.runId!);
      const finished = await pollUntil(
        async () => {
          const runs = await Promise.all(
            ids.map(async (id) => (await http.get(`/api/runs/${id}`)).body.run),
          );
          return runs.every((run) =>
            ['completed', 'failed', 'cancelled', 'partial'].includes(run?.status),
          )
            ? runs
            : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: 'every accepted run to finish' },
      );
      const lost = finished.filter((run) => run.status !== 'completed');
      const retried = finished.filter((run) => run.attempt > 1);

      // The store holds exactly the accepted runs: nothing refused with 503 was created anyway.
      const admin = new pg.Client({ connectionString: cluster.url });
      await admin.connect();
      const { rows } = await admin
        .query<{ id: string }>(`SELECT id FROM ${pg.escapeIdentifier(schema)}.jobdeck_runs`)
        .finally(() => admin.end());

      // What the API answered while the server was down (sent after the stop finished, answered
      // before the start began).
      const during = attempts.filter((a) => a.sentAt >= downAt && a.answeredAt <= startAsked);
      const statuses = (list: Attempted[]) => {
        const counts: Record<string, number> = {};
        for (const a of list) {
          const key = `${a.status}${a.code ? ` ${a.code}` : ''}`;
          counts[key] = (counts[key] ?? 0) + 1;
        }
        return counts;
      };
      const answerMs = during.map((a) => a.answeredAt - a.sentAt);
      const around = attempts.filter((a) => a.sentAt >= stopAsked - 1000 && a.sentAt < downAt);
      const { median, p95, max } = medianP95(answerMs);
      console.log(
        [
          `PostgreSQL outage: stop took ${downAt - stopAsked} ms, down ${startAsked - downAt} ms, start took ${upAt - startAsked} ms`,
          `  while down: ${during.length} requests, answers ${JSON.stringify(statuses(during))}, answer time median ${median} / p95 ${p95} / max ${max} ms`,
          `  in the second before and during the stop: ${JSON.stringify(statuses(around))}`,
          `  claiming resumed ${resumedMs} ms after the server was back; accepted runs ${ids.length}, completed ${finished.length - lost.length}, lost ${lost.length}, completed on a later attempt ${retried.length}`,
          `  runs in the store ${rows.length}; instances alive ${all.filter((i) => i.alive).length}/3; error log lines: ${all.map((i) => `${i.name} ${i.errorLogs().length}`).join(', ')}`,
        ].join('\n'),
      );

      // No instance exited.
      for (const instance of all)
        expect(instance.exit, `${instance.name}: ${instance.stderr}`).toBeNull();
      // While down: every request answered, quickly, with 503 — never a hang, a 500 or a 202.
      expect(during.length).toBeGreaterThan(20);
      expect(during.filter((a) => a.status === 'error')).toEqual([]);
      expect(Math.max(...answerMs)).toBeLessThan(ANSWER_WITHIN_MS);
      expect(
        during.filter((a) => a.status !== 503).map((a) => `${a.kind} ${a.status} ${a.code}`),
      ).toEqual([]);
      expect(
        during.filter((a) => a.kind === 'create').every((a) => a.code === 'STORE_UNAVAILABLE'),
      ).toBe(true);
      // Nothing answered 500 at any time, not even while the server was going away.
      expect(attempts.filter((a) => a.status === 500 || a.status === 'error')).toEqual([]);
      // No accepted run lost; nothing refused was created.
      expect(lost.map((run) => `${run.id} ${run.status}`)).toEqual([]);
      expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
      expect(resumedMs).toBeLessThanOrEqual(RESUME_WITHIN_MS);
    } finally {
      trickling = false;
      await trickle;
    }
  }, 120_000);
});
