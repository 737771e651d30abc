/**
 * Chaos soak against PostgreSQL (not part of `npm test`): for N minutes, one `serve --no-worker`
 * and two `worker` processes of the built command line run ledger runs on a PRIVATE cluster
 * (test/helpers/pg-cluster.ts; the shared server is never stopped) while this script, at random,
 * SIGKILLs a worker (and starts another), `pg_terminate_backend`s Jobdeck's backends, restarts
 * PostgreSQL, cancels running runs gracefully and by force, and sends hostile requests. Then it
 * lets every run finish and proves from the ledger the handlers write (a file outside Jobdeck's
 * tables) and from the store:
 *
 *   lost runs                  runs in the store that never reached a terminal status
 *   overlapping attempts       two attempts of one run executing at the same time (an attempt
 *                              of a SIGKILLed worker ends at its death)
 *   unexpected process exits   exits of the Jobdeck processes other than the SIGKILLs it sent
 *   cancels not delivered      cancels accepted while a handler ran that the handler never
 *                              observed, though it lived on (test/helpers/ledger-check.ts)
 *   HTTP 500s                  answers 5xx other than 503 STORE_UNAVAILABLE
 *
 * It prints each figure, the evidence behind any that is not 0, and exits 1 if any is not 0.
 *
 *   npm run build && npx tsx scripts/chaos-soak.ts [--minutes 2] [--seed <n>] \
 *     [--allowance-ms 5000] [--drain-ms 90000] [--keep]
 *
 * `--keep` leaves the folder with the ledger and every process's output. The children and the
 * cluster are removed on exit, also on Ctrl-C or SIGTERM (not on SIGKILL: then stop the cluster
 * with `pg_ctl -D <folder>/data stop`, the folder is printed at the start).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { isTerminal, type RunStatus } from '../src/core/status.js';
import { openAttemptsOf } from '../test/helpers/crash-soak.js';
import {
  cancelVerdicts,
  overlappingAttempts,
  type AcceptedCancel,
} from '../test/helpers/ledger-check.js';
import { LEDGER_JOB, readLedger, type LedgerInput } from '../test/helpers/ledger-jobs.js';
import { PrivateCluster } from '../test/helpers/pg-cluster.js';
import {
  Api,
  InstanceSet,
  LEDGER_JOBS_MODULE,
  freePort,
  schemaUrl,
  serveReady,
  workerReady,
  type Answer,
  type Instance,
} from '../test/helpers/pg-instances.js';
import { pollUntil } from '../test/helpers/poll.js';
import { freshSchema } from '../test/helpers/postgres.js';
import { seeded } from '../test/helpers/random.js';
import { tempDir } from '../test/helpers/temp.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    seed: { type: 'string' },
    'allowance-ms': { type: 'string', default: '5000' },
    'drain-ms': { type: 'string', default: '90000' },
    keep: { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
const allowanceMs = Number(values['allowance-ms']);
const drainMs = Number(values['drain-ms']);
const seed = Number(values.seed ?? randomBytes(4).readUInt32BE());
if (!(minutes > 0) || !(allowanceMs > 0) || !(drainMs > 0) || !Number.isInteger(seed)) {
  console.error(
    '--minutes, --allowance-ms and --drain-ms must be positive numbers, --seed an integer',
  );
  process.exit(2);
}

// The same seed draws the same faults (their timing still varies).
const random = seeded(seed);
const between = (min: number, max: number) => min + Math.floor(random() * (max - min));
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

/** Short leases and polls, as the outage test uses: faults are felt, and recovered from, quickly. */
const WORKER_ENV = {
  JOBDECK_LEASE_MS: '2000',
  JOBDECK_HEARTBEAT_MS: '500',
  JOBDECK_POLL_MS: '200',
  // Two cores are shared with PostgreSQL and this script: a few runs at a time per worker.
  JOBDECK_CONCURRENCY: '3',
};
const REQUEST_TIMEOUT_MS = 15_000;
const ADMIN_APP = 'jobdeck-chaos-soak';

const instances = new InstanceSet();
const { dir, cleanup: removeDir } = tempDir('jobdeck-chaos-');
const ledgerPath = join(dir, 'ledger.jsonl');
let cluster: PrivateCluster | null = null;

/** The exits the soak caused: its SIGKILLs and its final stop. */
const expectedExits = new Set<Instance>();
let cleaning: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const instance of instances.all) expectedExits.add(instance);
    await instances.killAll();
    await cluster?.destroy().catch((err: unknown) => console.error(err));
    if (!values.keep) removeDir();
  })();
  return cleaning;
}
let interrupted = false;
const interrupt = (signal: NodeJS.Signals) => {
  if (interrupted) return;
  interrupted = true;
  console.log(`${signal}: stopping the processes and removing the cluster`);
  void cleanup().finally(() => process.exit(130));
};
process.once('SIGINT', interrupt);
process.once('SIGTERM', interrupt);

// What the soak did and saw.
const unexpectedExits: string[] = [];
const diedAt = new Map<string, number>();
const outages: { from: number; to: number }[] = [];
const accepted: AcceptedCancel[] = [];
const serverErrors: { label: string; at: string; body: string }[] = [];
const unanswered: { label: string; t: number; error: string }[] = [];
/** From an unexpected exit of the API process until its replacement serves. */
const apiDown: { from: number; to: number }[] = [];
const statuses = new Map<string, number>();
const faults = { kills: 0, terminations: 0, backends: 0, restarts: 0, downMs: 0, replaced: 0 };
const cancelsSent = { graceful: 0, force: 0 };
let hostileSent = 0;

let soakStart = Date.now();
const at = (t = Date.now()) => `+${((t - soakStart) / 1000).toFixed(1)}s`;

/** What a process printed as it died: the error Node reports, its code, and its last log line. */
function deathNote(stderr: string): string {
  const lines = stderr.split('\n');
  const error = lines.find((line) => /^[A-Za-z]*[Ee]rror: /.test(line));
  const code = lines.map((line) => /^\s+code: '(\w+)'/.exec(line)?.[1]).find(Boolean);
  const lastLog = lines.filter((line) => line.startsWith('{')).pop();
  let logged = '';
  try {
    const entry = lastLog ? (JSON.parse(lastLog) as { msg?: string; where?: string }) : null;
    if (entry)
      logged = `; last log line: ${entry.msg ?? ''}${entry.where ? ` (${entry.where})` : ''}`;
  } catch {
    // Not a log line after all.
  }
  return `${error ?? lines.filter(Boolean).pop() ?? 'no output'}${code ? ` [${code}]` : ''}${logged}`;
}

function watchExit(instance: Instance, worker: boolean): void {
  void instance.exited.then((exit) => {
    if (worker) diedAt.set(instance.name, Date.now());
    if (expectedExits.has(instance)) return;
    if (!worker) apiDown.push({ from: Date.now(), to: Number.POSITIVE_INFINITY });
    unexpectedExits.push(
      `${instance.name} (pid ${instance.pid}) exited ${JSON.stringify(exit)} at ${at()}: ${deathNote(instance.stderr)}`,
    );
    console.log(`  ${at()} UNEXPECTED EXIT of ${instance.name}: ${JSON.stringify(exit)}`);
  });
}

try {
  cluster = await PrivateCluster.create();
  const schema = freshSchema();
  const db = schemaUrl(cluster.url, schema);
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const http = new Api(`http://127.0.0.1:${port}`, token);
  console.log(
    `chaos soak: ${minutes} min, seed ${seed}, PostgreSQL cluster ${cluster.dir} on port ${cluster.port}, schema ${schema}, folder ${dir}`,
  );

  let serial = 0;
  let api: Instance | null = null;
  const workers = new Map<string, Instance>();
  const startApi = async () => {
    const instance = instances.cli(
      `api${++serial}`,
      ['serve', '--no-worker', '--db', db, '--jobs', LEDGER_JOBS_MODULE],
      { JOBDECK_TOKENS: `soak:admin:${token}`, JOBDECK_PORT: String(port) },
    );
    watchExit(instance, false);
    api = instance;
    await serveReady(instance);
    const down = apiDown.at(-1);
    if (down && down.to === Number.POSITIVE_INFINITY) down.to = Date.now();
  };
  const startWorker = async () => {
    const name = `w${++serial}`;
    const instance = instances.cli(name, ['worker', '--db', db, '--jobs', LEDGER_JOBS_MODULE], {
      ...WORKER_ENV,
      JOBDECK_TEST_LEDGER: ledgerPath,
      JOBDECK_TEST_WORKER: name,
    });
    watchExit(instance, true);
    workers.set(name, instance);
    await workerReady(instance);
  };
  /** Start a process in place of any that died on its own (the database is up when called). */
  const replaceDead = async () => {
    if (api && !api.alive) {
      faults.replaced++;
      await startApi();
    }
    for (const [name, instance] of workers) {
      if (instance.alive) continue;
      workers.delete(name);
      faults.replaced++;
      await startWorker();
    }
  };
  await startApi();
  await Promise.all([startWorker(), startWorker()]);
  soakStart = Date.now();
  const endAt = soakStart + minutes * 60_000;
  const soaking = () => !interrupted && Date.now() < endAt;

  /** Every HTTP call goes through here, so every answer is counted. */
  const call = async (label: string, send: () => Promise<Answer>): Promise<Answer | null> => {
    try {
      const answer = await send();
      statuses.set(String(answer.status), (statuses.get(String(answer.status)) ?? 0) + 1);
      if (answer.status >= 500 && answer.status !== 503)
        serverErrors.push({
          label: `${label} → ${answer.status}`,
          at: at(),
          body: JSON.stringify(answer.body).slice(0, 300),
        });
      return answer;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      const error = `${err instanceof Error ? err.message : String(err)}${cause ? ` (${cause})` : ''}`;
      unanswered.push({ label, t: Date.now(), error });
      return null;
    }
  };

  /** Runs a handler is executing right now, by the ledger, on a worker that is alive. */
  const liveRunIds = (options: { longStartedWithinMs?: number } = {}) => {
    const ledger = readLedger(ledgerPath);
    const startedAt = new Map(
      ledger.filter((l) => l.event === 'start').map((l) => [`${l.runId}#${l.attempt}`, l.t]),
    );
    const within = options.longStartedWithinMs;
    return [...workers.values()]
      .filter((worker) => worker.alive)
      .flatMap((worker) => openAttemptsOf(ledger, worker.name))
      .filter(
        (open) =>
          within === undefined ||
          (longRuns.has(open.runId) &&
            Date.now() - (startedAt.get(`${open.runId}#${open.attempt}`) ?? 0) < within),
      )
      .map((open) => open.runId);
  };

  const cancel = async (runId: string, mode: 'graceful' | 'force', reason: string) => {
    cancelsSent[mode]++;
    const answer = await call(`cancel ${mode} ${JSON.stringify(reason)}`, () =>
      http.post(`/api/runs/${runId}/cancel`, { mode, reason }, REQUEST_TIMEOUT_MS),
    );
    const run = (answer?.body as { run?: { attempt?: number } } | undefined)?.run;
    if (answer?.status === 200 && typeof run?.attempt === 'number')
      accepted.push({ runId, attempt: run.attempt, mode, acceptedAt: Date.now() });
  };

  /**
   * Runs long enough (12 s) that a cancel sent in their first 3 s leaves more work than the
   * allowance: a cancel that never arrives then shows as work done after it, not as a run that
   * happened to finish.
   */
  const longRuns = new Set<string>();
  const LONG_RUN: LedgerInput = { steps: 24, stepMs: 500 };
  const createLoop = async () => {
    while (soaking()) {
      const long = random() < 0.25;
      const input: LedgerInput = long
        ? LONG_RUN
        : { steps: between(2, 9), stepMs: between(100, 400) };
      const answer = await call('create', () =>
        http.post(`/api/jobs/${LEDGER_JOB}/runs`, { input }, REQUEST_TIMEOUT_MS),
      );
      const id = (answer?.body as { run?: { id?: string } } | undefined)?.run?.id;
      if (long && answer?.status === 202 && id) longRuns.add(id);
      // Pacing of the load (about one run a second), not a synchronisation.
      await delay(between(600, 1400));
    }
  };

  const cancelLoop = async () => {
    while (soaking()) {
      await delay(between(800, 2500));
      const fresh = liveRunIds({ longStartedWithinMs: 3000 });
      const live = fresh.length > 0 ? fresh : liveRunIds();
      if (live.length > 0) await cancel(pick(live), random() < 0.5 ? 'graceful' : 'force', 'soak');
    }
  };

  const unknownId = '01900000-0000-7000-8000-000000000000';
  const hostile: (() => Promise<unknown>)[] = [
    // NUL and lone surrogates where PostgreSQL stores or compares text.
    ...['\u0000', 'a\u0000b', '\ud800', 'x\udc00'].flatMap((bad) => [
      () =>
        call(`create with idempotencyKey ${JSON.stringify(bad)}`, () =>
          http.post(
            `/api/jobs/${LEDGER_JOB}/runs`,
            { input: { steps: 1, stepMs: 10 }, idempotencyKey: bad },
            REQUEST_TIMEOUT_MS,
          ),
        ),
      async () => {
        const live = liveRunIds();
        if (live.length > 0) await cancel(pick(live), 'graceful', bad);
      },
      () =>
        call(`bulk cancel of job ${JSON.stringify(bad)}`, () =>
          http.post('/api/runs/cancel', { job: bad, reason: bad }, REQUEST_TIMEOUT_MS),
        ),
    ]),
    ...['%00', 'a%00b', '%ED%A0%80', '%C0%80'].flatMap((bad) => [
      () => call(`list job=${bad}`, () => http.get(`/api/runs?job=${bad}`, REQUEST_TIMEOUT_MS)),
      () =>
        call(`list createdBy=${bad}`, () =>
          http.get(`/api/runs?createdBy=${bad}`, REQUEST_TIMEOUT_MS),
        ),
      () => call(`get run ${bad}`, () => http.get(`/api/runs/${bad}`, REQUEST_TIMEOUT_MS)),
      () => call(`get job ${bad}`, () => http.get(`/api/jobs/${bad}`, REQUEST_TIMEOUT_MS)),
      () =>
        call(`create on job ${bad}`, () =>
          http.post(`/api/jobs/${bad}/runs`, { input: {} }, REQUEST_TIMEOUT_MS),
        ),
    ]),
    // A string the schema drops (unknown key) and one it refuses (wrong type).
    () =>
      call('create with a NUL in an unknown input key', () =>
        http.post(
          `/api/jobs/${LEDGER_JOB}/runs`,
          { input: { steps: 1, stepMs: 10, note: '\u0000' } },
          REQUEST_TIMEOUT_MS,
        ),
      ),
    () =>
      call('create with a string for a number', () =>
        http.post(
          `/api/jobs/${LEDGER_JOB}/runs`,
          { input: { steps: '\u0000', stepMs: -1 } },
          REQUEST_TIMEOUT_MS,
        ),
      ),
    // Huge bodies, over the body limit and within it.
    () =>
      call('create with a 2 MB body', () =>
        http.send('POST', `/api/jobs/${LEDGER_JOB}/runs`, {
          body: JSON.stringify({ input: { pad: 'x'.repeat(2 * 1024 * 1024) } }),
          timeoutMs: REQUEST_TIMEOUT_MS,
        }),
      ),
    () =>
      call('create with a 900 kB reason-like key', () =>
        http.post(
          `/api/jobs/${LEDGER_JOB}/runs`,
          { input: { steps: 1, stepMs: 10 }, idempotencyKey: 'k'.repeat(900_000) },
          REQUEST_TIMEOUT_MS,
        ),
      ),
    () =>
      call('cancel with a 900 kB reason', () =>
        http.post(
          `/api/runs/${unknownId}/cancel`,
          { mode: 'force', reason: 'r'.repeat(900_000) },
          REQUEST_TIMEOUT_MS,
        ),
      ),
    // Bad JSON and the wrong content type.
    ...[
      '{"input":',
      '{"input": {"steps": 1,}}',
      '\u0000',
      '[]',
      'null',
      '"x"',
      '{"a":'.repeat(5000),
    ].map(
      (body) => () =>
        call(`create with body ${JSON.stringify(body.slice(0, 30))}`, () =>
          http.send('POST', `/api/jobs/${LEDGER_JOB}/runs`, {
            body,
            timeoutMs: REQUEST_TIMEOUT_MS,
          }),
        ),
    ),
    () =>
      call('cancel with text/plain', () =>
        http.send('POST', `/api/runs/${unknownId}/cancel`, {
          body: 'force',
          contentType: 'text/plain',
          timeoutMs: REQUEST_TIMEOUT_MS,
        }),
      ),
    // Wrong types.
    () =>
      call('cancel mode "nuke"', () =>
        http.post(`/api/runs/${unknownId}/cancel`, { mode: 'nuke' }, REQUEST_TIMEOUT_MS),
      ),
    () =>
      call('create with priority "high" and runAt "2024-13-45"', () =>
        http.post(
          `/api/jobs/${LEDGER_JOB}/runs`,
          { input: { steps: 1, stepMs: 10 }, priority: 'high', runAt: '2024-13-45' },
          REQUEST_TIMEOUT_MS,
        ),
      ),
    () => call('logs after=-1', () => http.get(`/api/runs/${unknownId}/logs?after=-1`)),
    () => call('list limit=1e9', () => http.get('/api/runs?limit=1000000000&cursor=%00')),
    () =>
      call('bulk cancel ids of wrong type', () =>
        http.post('/api/runs/cancel', { ids: [1, null, {}] }, REQUEST_TIMEOUT_MS),
      ),
    // Unknown ids.
    () => call('get unknown run', () => http.get(`/api/runs/${unknownId}`, REQUEST_TIMEOUT_MS)),
    () => call('get malformed run id', () => http.get('/api/runs/not-a-run', REQUEST_TIMEOUT_MS)),
    () =>
      call('cancel unknown run', () =>
        http.post(`/api/runs/${unknownId}/cancel`, { mode: 'force' }, REQUEST_TIMEOUT_MS),
      ),
    () =>
      call('retry unknown run', () =>
        http.post(`/api/runs/${unknownId}/retry`, {}, REQUEST_TIMEOUT_MS),
      ),
    () => call('get unknown job', () => http.get('/api/jobs/no.such.job', REQUEST_TIMEOUT_MS)),
  ];
  const hostileLoop = async () => {
    while (soaking()) {
      await delay(between(300, 900));
      hostileSent++;
      await pick(hostile)();
    }
  };

  const terminateBackends = async () => {
    const admin = new pg.Client({
      connectionString: cluster!.url,
      application_name: ADMIN_APP,
      connectionTimeoutMillis: 5000,
    });
    admin.on('error', () => {});
    try {
      await admin.connect();
      const { rows } = await admin.query<{ pid: number; state: string | null }>(
        `SELECT pid, state FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND application_name <> $1`,
        [ADMIN_APP],
      );
      const chosen = rows.filter(() => random() < 0.3);
      if (chosen.length === 0 && rows.length > 0) chosen.push(pick(rows));
      for (const row of chosen) await admin.query('SELECT pg_terminate_backend($1)', [row.pid]);
      faults.terminations++;
      faults.backends += chosen.length;
      console.log(
        `  ${at()} terminated ${chosen.length}/${rows.length} backends (${chosen.map((r) => r.state ?? '?').join(', ')})`,
      );
    } finally {
      await admin.end().catch(() => {});
    }
  };

  const restartPostgres = async () => {
    const mode = pick(['fast', 'immediate'] as const);
    const downFor = between(1000, 6000);
    const from = Date.now();
    await cluster!.stop(mode);
    // The outage: a perturbation of chosen length, not a synchronisation.
    await delay(downFor);
    await cluster!.start();
    const to = Date.now();
    outages.push({ from, to });
    faults.restarts++;
    faults.downMs += to - from;
    console.log(`  ${at(from)} PostgreSQL stopped (${mode}), up again after ${to - from} ms`);
  };

  const killWorker = async () => {
    const candidates = [...workers.values()].filter((worker) => worker.alive);
    if (candidates.length === 0) return;
    const victim = pick(candidates);
    expectedExits.add(victim);
    const open = openAttemptsOf(readLedger(ledgerPath), victim.name).length;
    await victim.kill('SIGKILL');
    workers.delete(victim.name);
    faults.kills++;
    console.log(`  ${at()} SIGKILLed ${victim.name} with ${open} runs in its hands`);
    await startWorker();
  };

  // Faults and replacements take turns, each finished (processes ready, database up) before the
  // next: a process is never started while the database is down.
  let turn: Promise<void> = Promise.resolve();
  const inTurn = (step: () => Promise<void>) => {
    // A process that dies while starting is counted by its exit and replaced at the next turn.
    turn = turn.then(step).catch((err: unknown) => {
      console.log(`  ${at()} ${err instanceof Error ? err.message.slice(0, 300) : String(err)}`);
    });
    return turn;
  };
  const chaosLoop = async () => {
    while (soaking()) {
      await delay(between(2000, 6000));
      if (!soaking()) break;
      await inTurn(async () => {
        const draw = random();
        if (draw < 0.35) await killWorker();
        else if (draw < 0.8) await terminateBackends();
        else await restartPostgres();
      });
    }
  };
  /** A process that died on its own is replaced at the next turn, so the soak goes on. */
  const superviseLoop = async () => {
    while (soaking()) {
      await delay(500);
      await inTurn(replaceDead);
    }
  };

  const progress = setInterval(() => {
    console.log(
      `  ${at()} ${accepted.length} cancels accepted, ${hostileSent} hostile requests, answers ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
  }, 30_000);
  try {
    await Promise.all([createLoop(), cancelLoop(), hostileLoop(), chaosLoop(), superviseLoop()]);
  } finally {
    clearInterval(progress);
  }
  if (interrupted) throw new Error('interrupted');

  // Drain: every process up again, every run to a terminal status.
  console.log(`  ${at()} chaos over; waiting for every run to finish`);
  await inTurn(replaceDead);
  const admin = new pg.Client({ connectionString: cluster.url, application_name: ADMIN_APP });
  admin.on('error', () => {});
  await admin.connect();
  type Row = { id: string; status: RunStatus; attempt: number; worker_id: string | null };
  const runs = async () =>
    (
      await admin.query<Row>(
        `SELECT id, status, attempt, worker_id FROM ${pg.escapeIdentifier(schema)}.jobdeck_runs`,
      )
    ).rows;
  let finalRuns: Row[];
  try {
    finalRuns = await pollUntil(
      async () => {
        const rows = await runs();
        return rows.every((row) => isTerminal(row.status)) && rows;
      },
      { timeoutMs: drainMs, intervalMs: 500, what: 'every run to finish' },
    );
  } catch {
    finalRuns = await runs();
  }
  await admin.end();
  const ledger = readLedger(ledgerPath);
  const alive = [...instances.all].filter((instance) => instance.alive);
  // Errors the processes logged and survived, by message.
  const errorLogs = new Map<string, number>();
  for (const instance of instances.all) {
    for (const line of instance.errorLogs()) {
      const entry = JSON.parse(line) as {
        msg?: string;
        where?: string;
        err?: { message?: string };
      };
      const key = `${instance.name.replace(/\d+$/, '')}: ${entry.msg ?? ''}${entry.where ? ` (${entry.where})` : ''}: ${entry.err?.message ?? ''}`;
      errorLogs.set(key, (errorLogs.get(key) ?? 0) + 1);
    }
  }
  for (const instance of alive) expectedExits.add(instance);
  await Promise.all(alive.map((instance) => instance.kill('SIGTERM')));
  if (values.keep) {
    for (const instance of instances.all) {
      writeFileSync(join(dir, `${instance.name}.stdout`), instance.lines.join('\n'));
      writeFileSync(join(dir, `${instance.name}.stderr`), instance.stderr);
    }
  }

  const lost = finalRuns.filter((row) => !isTerminal(row.status));
  const overlaps = overlappingAttempts(ledger, diedAt);
  const verdicts = cancelVerdicts(ledger, accepted, { allowanceMs, diedAt, outages });
  const missed = verdicts.filter((verdict) => verdict.fate === 'missed');
  const fates: Record<string, number> = {};
  for (const verdict of verdicts) fates[verdict.fate] = (fates[verdict.fate] ?? 0) + 1;
  // Requests cut by a crash of the API process are that crash, counted once among the exits.
  const whileApiDown = unanswered.filter((u) =>
    apiDown.some((down) => u.t >= down.from - 1000 && u.t <= down.to),
  );
  /** Evidence lines grouped by label: one line per kind, with a count and the first case. */
  const grouped = (list: { label: string; at: string; body: string }[]) => {
    const byLabel = new Map<string, { count: number; first: string }>();
    for (const item of list) {
      const seen = byLabel.get(item.label);
      if (seen) seen.count++;
      else byLabel.set(item.label, { count: 1, first: `first at ${item.at}: ${item.body}` });
    }
    return [...byLabel].map(([label, { count, first }]) => `${label} ×${count} (${first})`);
  };
  const finalStatuses: Record<string, number> = {};
  for (const row of finalRuns) finalStatuses[row.status] = (finalStatuses[row.status] ?? 0) + 1;
  const figures: [string, number, string[]][] = [
    [
      'lost runs',
      lost.length,
      lost.map((r) => `${r.id} ${r.status} attempt ${r.attempt} on ${r.worker_id}`),
    ],
    ['overlapping attempts', overlaps.length, overlaps],
    ['unexpected process exits', unexpectedExits.length, unexpectedExits],
    [
      'cancels that did not reach a live handler',
      missed.length,
      missed.map(
        (m) =>
          `${m.runId}#${m.attempt} ${m.mode} accepted at ${at(m.acceptedAt)} on ${m.workerId}: ${m.evidence}`,
      ),
    ],
    ['HTTP 500s', serverErrors.length, grouped(serverErrors)],
  ];
  console.log(
    [
      '',
      `chaos soak over ${minutes} min (seed ${seed}):`,
      `  runs in the store ${finalRuns.length}: ${JSON.stringify(finalStatuses)}; ledger lines ${ledger.length}`,
      `  faults: ${faults.kills} worker SIGKILLs, ${faults.terminations} rounds of pg_terminate_backend (${faults.backends} backends), ${faults.restarts} PostgreSQL restarts (down ${faults.downMs} ms in all), ${faults.replaced} processes started in place of ones that died`,
      `  cancels: ${cancelsSent.graceful} graceful and ${cancelsSent.force} forced sent, ${accepted.length} accepted; by the ledger: ${JSON.stringify(fates)} (allowance ${allowanceMs} ms)`,
      `  ${hostileSent} hostile requests; answers by status: ${JSON.stringify(Object.fromEntries(statuses))}`,
      `  requests without an answer: ${unanswered.length} (${whileApiDown.length} while the API process was down after a crash)`,
      `  error log lines of the processes: ${[...errorLogs.values()].reduce((a, b) => a + b, 0)}`,
      '',
      ...figures.map(([name, count]) => `${name}: ${count}`),
    ].join('\n'),
  );
  for (const [name, count, evidence] of figures) {
    if (count === 0) continue;
    console.log(`\n${name.toUpperCase()}:`);
    for (const line of evidence.slice(0, 20)) console.log(`  ${line}`);
    if (evidence.length > 20) console.log(`  … and ${evidence.length - 20} more`);
  }
  const otherUnanswered = unanswered.filter((u) => !whileApiDown.includes(u));
  if (otherUnanswered.length > 0) {
    console.log('\nREQUESTS WITHOUT AN ANSWER WHILE THE API PROCESS LIVED (first 10):');
    for (const u of otherUnanswered.slice(0, 10))
      console.log(`  ${at(u.t)} ${u.label}: ${u.error}`);
  }
  if (errorLogs.size > 0) {
    console.log('\nERROR LOG LINES, BY MESSAGE:');
    for (const [key, count] of errorLogs) console.log(`  ${key} ×${count}`);
  }
  process.exitCode = figures.some(([, count]) => count > 0) ? 1 : 0;
} catch (err) {
  if (!interrupted) console.error(err);
  process.exitCode = interrupted ? 130 : 1;
} finally {
  await cleanup();
}
process.exit(process.exitCode);
