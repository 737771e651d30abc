/**
 * The library as an embedding application uses it, on real SQLite files: waiting for a run to
 * finish, cancelling without naming a principal, stopping and starting the worker of a live
 * instance, the timings it refuses, and the package's public surface.
 */
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it, vi } from 'vitest';
import { JobdeckClient } from '../src/client/client.js';
import { startInstance } from '../src/cli/instance.js';
import { Jobdeck, type JobdeckOptions } from '../src/jobdeck.js';
import { defineJob } from '../src/jobs/define.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { deferred } from './helpers/deck.js';
import { EVENT_DEADLINE_MS, pollUntil } from './helpers/poll.js';
import { tempDbPath } from './helpers/temp.js';

const defer = cleanupAfterEach();

/** A handler that runs until the test lets it go (or its signal aborts). */
function heldJob() {
  let release = deferred();
  const started = { count: 0 };
  const job = defineJob({
    name: 'held',
    async run(ctx) {
      started.count++;
      await Promise.race([
        release.promise,
        new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)),
      ]);
      ctx.checkpoint();
      return { done: true };
    },
  });
  return {
    job,
    started,
    release: () => {
      release.resolve();
      release = deferred();
    },
  };
}

const quick = defineJob({ name: 'quick', run: () => ({ answer: 42 }) });

function dbPath(): string {
  const { path, cleanup } = tempDbPath();
  defer(cleanup);
  return path;
}

async function open(path: string, options: Partial<JobdeckOptions> = {}): Promise<Jobdeck> {
  const deck = new Jobdeck({
    store: new SqliteStore({ path }),
    jobs: [quick],
    worker: { pollMs: 20, cancelPollMs: 20, heartbeatMs: 100, leaseMs: 2000 },
    scheduler: false,
    maintenance: { intervalMs: 50 },
    ...options,
  });
  defer(() => deck.close({ graceMs: 1000 }));
  return deck.start();
}

const refusal = async (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (err: unknown) => ({
      name: (err as Error).name,
      code: (err as { code?: string }).code,
      message: (err as Error).message,
      data: (err as { data?: unknown }).data,
    }),
  );

describe('runs.wait', () => {
  it('resolves with the finished run and its result, and at once for a run already finished', async () => {
    const deck = await open(dbPath());
    const { run } = await deck.runs.create({ job: 'quick' });
    const finished = await deck.runs.wait(run.id, { timeoutMs: EVENT_DEADLINE_MS });
    expect(finished).toMatchObject({ id: run.id, status: 'completed', result: { answer: 42 } });
    // Finished already: answered from the first read, well inside a timeout no event could meet.
    expect(await deck.runs.wait(run.id, { timeoutMs: 500 })).toEqual(finished);
  });

  it("wakes on another instance's finish through the store's feed (an API-only instance waits)", async () => {
    const path = dbPath();
    const api = await open(path, { worker: false });
    const { run } = await api.runs.create({ job: 'quick' });
    const waiting = api.runs.wait(run.id, { timeoutMs: EVENT_DEADLINE_MS });
    await open(path);
    expect(await waiting).toMatchObject({ id: run.id, status: 'completed' });
  });

  it('rejects with WAIT_TIMEOUT and the run as last read; the run goes on', async () => {
    const held = heldJob();
    const deck = await open(dbPath(), { jobs: [held.job] });
    const { run } = await deck.runs.create({ job: 'held' });
    await pollUntil(() => held.started.count === 1, { timeoutMs: EVENT_DEADLINE_MS });
    const refused = await refusal(deck.runs.wait(run.id, { timeoutMs: 100 }));
    expect(refused).toMatchObject({
      name: 'JobdeckError',
      code: 'WAIT_TIMEOUT',
      message: `Run ${run.id} did not finish within 100 ms; it is running.`,
      data: { id: run.id, status: 'running' },
    });
    held.release();
    expect((await deck.runs.wait(run.id)).status).toBe('completed');
  });

  it("rejects with the signal's AbortError when it aborts, or at once when it already has", async () => {
    const held = heldJob();
    const deck = await open(dbPath(), { jobs: [held.job] });
    const { run } = await deck.runs.create({ job: 'held' });
    const controller = new AbortController();
    const waiting = refusal(deck.runs.wait(run.id, { signal: controller.signal }));
    controller.abort();
    expect(await waiting).toMatchObject({ name: 'AbortError' });
    const reason = new Error('gave up');
    expect(await refusal(deck.runs.wait(run.id, { signal: AbortSignal.abort(reason) }))).toEqual(
      expect.objectContaining({ message: 'gave up' }),
    );
    held.release();
  });

  it('rejects with RUN_NOT_FOUND for an unknown id, and INVALID_INPUT for a negative timeout', async () => {
    const deck = await open(dbPath());
    const unknown = '01900000-0000-7000-8000-000000000000';
    expect((await refusal(deck.runs.wait(unknown)))?.code).toBe('RUN_NOT_FOUND');
    expect((await refusal(deck.runs.wait(unknown, { timeoutMs: -1 })))?.code).toBe('INVALID_INPUT');
  });
});

describe('cancels.cancel without a principal', () => {
  it('cancels as the system principal, like runs.create', async () => {
    const held = heldJob();
    const deck = await open(dbPath(), { jobs: [held.job] });
    const { run } = await deck.runs.create({
      job: 'held',
      principal: { name: 'alice', role: 'operator' },
    });
    await pollUntil(() => held.started.count === 1, { timeoutMs: EVENT_DEADLINE_MS });
    const { run: cancelling } = await deck.cancels.cancel(run.id);
    expect(cancelling.cancel).toMatchObject({ mode: 'graceful', requestedBy: 'system' });
    const { run: forced } = await deck.cancels.cancel(run.id, { mode: 'force', reason: 'now' });
    expect(forced.status).toBe('cancelled');
    expect((await deck.runs.wait(run.id)).status).toBe('cancelled');
  });
});

describe('the worker of a live instance', () => {
  const listed = async (deck: Jobdeck) => {
    const me = (await deck.store.instanceList({ now: null })).find(
      (i) => i.id === deck.instances.id,
    );
    return [me?.role, me?.concurrency];
  };

  it('stops (runs finish within the grace) and starts again; the list of instances follows at once', async () => {
    const held = heldJob();
    const deck = await open(dbPath(), {
      jobs: [held.job, quick],
      worker: { concurrency: 3, pollMs: 20, cancelPollMs: 20, heartbeatMs: 100, leaseMs: 2000 },
    });
    expect(await listed(deck)).toEqual(['both', 3]);
    const { run: first } = await deck.runs.create({ job: 'held' });
    await pollUntil(() => held.started.count === 1, { timeoutMs: EVENT_DEADLINE_MS });

    // The run in progress finishes within the grace; the instance stays up meanwhile.
    const stopping = deck.stopWorker({ graceMs: EVENT_DEADLINE_MS });
    held.release();
    await stopping;
    expect(deck.workerRunning).toBe(false);
    expect((await deck.runs.get(first.id)).status).toBe('completed');
    expect(await listed(deck)).toEqual(['api', null]);

    // Nothing is claimed while stopped; the API side still creates runs.
    const { run: second } = await deck.runs.create({ job: 'quick' });
    expect((await refusal(deck.runs.wait(second.id, { timeoutMs: 300 })))?.data).toMatchObject({
      status: 'pending',
    });

    await deck.startWorker();
    expect(deck.workerRunning).toBe(true);
    expect(await listed(deck)).toEqual(['both', 3]);
    expect((await deck.runs.wait(second.id, { timeoutMs: EVENT_DEADLINE_MS })).status).toBe(
      'completed',
    );
  });

  it('a stop whose grace runs out releases the run for another try, as a shutdown does', async () => {
    const held = heldJob();
    const deck = await open(dbPath(), { jobs: [held.job] });
    const { run } = await deck.runs.create({ job: 'held' });
    await pollUntil(() => held.started.count === 1, { timeoutMs: EVENT_DEADLINE_MS });
    await deck.stopWorker({ graceMs: 50 });
    const released = await deck.runs.get(run.id);
    expect(['pending', 'scheduled']).toContain(released.status);
    expect(released.workerId).toBeNull();
    await deck.startWorker();
    await pollUntil(() => held.started.count === 2, { timeoutMs: EVENT_DEADLINE_MS });
    held.release();
    expect((await deck.runs.wait(run.id, { timeoutMs: EVENT_DEADLINE_MS })).status).toBe(
      'completed',
    );
  });

  it('stopped before start, the instance starts without it; an instance built without one refuses to start one', async () => {
    const path = dbPath();
    const deck = new Jobdeck({ store: new SqliteStore({ path }), jobs: [quick], scheduler: false });
    defer(() => deck.close({ graceMs: 1000 }));
    await deck.stopWorker();
    await deck.start();
    expect(deck.workerRunning).toBe(false);
    expect(await listed(deck)).toEqual(['api', null]);
    await deck.startWorker();
    expect(await listed(deck)).toEqual(['both', 10]);

    const api = await open(path, { worker: false });
    expect(await refusal(api.startWorker())).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/^This instance was built with worker: false/),
    });
  });
});

describe('lease and rescuer timings', () => {
  const refused = (options: Partial<JobdeckOptions>) => {
    const store = new SqliteStore({ path: dbPath() });
    defer(() => store.close());
    try {
      new Jobdeck({ store, ...options });
    } catch (err) {
      return [(err as { code?: string }).code, (err as Error).message];
    }
    return null;
  };

  it('the instance refuses values under their minimums, naming the option', () => {
    expect(refused({ worker: { leaseMs: 500 } })).toEqual([
      'INVALID_INPUT',
      'worker.leaseMs must be a whole number of milliseconds of at least 1000, not 500.',
    ]);
    expect(refused({ worker: { leaseMs: 4000, heartbeatMs: 3000 } })?.[1]).toBe(
      'worker.heartbeatMs (3000) must be at most half of worker.leaseMs (4000), so that a lease outlives one missed renewal.',
    );
    expect(refused({ maintenance: { intervalMs: 0 } })).toEqual([
      'INVALID_INPUT',
      'maintenance.intervalMs must be a whole number of milliseconds of at least 10, not 0.',
    ]);
    expect(refused({ worker: { leaseMs: 1000, heartbeatMs: 500 } })).toBeNull();
    expect(refused({ worker: { prefetch: -1 } })).toEqual([
      'INVALID_INPUT',
      'prefetch must be a whole number, 0 or more',
    ]);
    expect(refused({ worker: { prefetch: 0 } })).toBeNull();
  });

  it('JOBDECK_PREFETCH sets the prefetch of serve and worker; a bad value names the variable', async () => {
    defer(() => vi.unstubAllEnvs());
    const logger = { warn: () => {}, error: () => {} } as never;
    vi.stubEnv('JOBDECK_PREFETCH', '64');
    const deck = await startInstance({ db: dbPath() }, logger);
    defer(() => deck.close());
    expect(deck.worker?.prefetch).toBe(64);
    vi.stubEnv('JOBDECK_PREFETCH', 'many');
    expect(await refusal(startInstance({ db: dbPath() }, logger))).toMatchObject({
      message: 'JOBDECK_PREFETCH must be a whole number, 0 or more, not "many"',
    });
  });

  it('serve and worker name the environment variables, before opening the store', async () => {
    vi.stubEnv('JOBDECK_LEASE_MS', '1500');
    defer(() => vi.unstubAllEnvs());
    const path = dbPath();
    const logger = { warn: () => {}, error: () => {} } as never;
    expect(await refusal(startInstance({ db: path }, logger))).toMatchObject({
      code: 'INVALID_INPUT',
      message:
        'JOBDECK_HEARTBEAT_MS (1000, the default) must be at most half of JOBDECK_LEASE_MS (1500), so that a lease outlives one missed renewal.',
    });
    // An API-only instance has no lease: the same settings do not stop it.
    const api = await startInstance({ db: path, worker: false }, logger);
    defer(() => api.close());
    expect(api.worker).toBeNull();
  });
});

describe('the public surface', () => {
  const INDEX = fileURLToPath(new URL('../src/index.ts', import.meta.url));

  it('is what an application needs, each export with a doc comment; engine parts are reached through the instance', () => {
    const program = ts.createProgram([INDEX], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      skipLibCheck: true,
      noEmit: true,
    });
    const checker = program.getTypeChecker();
    const exports = checker.getExportsOfModule(
      checker.getSymbolAtLocation(program.getSourceFile(INDEX)!)!,
    );
    const undocumented = exports
      .filter((symbol) => {
        const target = checker.getAliasedSymbol(symbol);
        return ts.displayPartsToString(target.getDocumentationComment(checker)).trim() === '';
      })
      .map((symbol) => symbol.name);
    expect(undocumented).toEqual([]);
    // A change to this list is a change to what users may import: on purpose, with a changelog line.
    expect(exports.map((symbol) => symbol.name).sort()).toEqual(
      [
        ...['Jobdeck', 'JobdeckOptions', 'WorkerOptions', 'MaintenanceOptions'],
        ...['defineJob', 'JobOptions', 'JobDefinition', 'Isolation', 'JobContext', 'RunLogger'],
        ...['ForEachSummary', 'ScheduleOptions', 'defineExecJob', 'ExecJobOptions'],
        ...['ChildRun', 'ChildRunError'],
        ...['BackoffOptions', 'Duration'],
        ...['CreateRunParams', 'ListRunsParams', 'RunListFilter', 'RunStatsView', 'JobView'],
        ...['WaitOptions', 'StatsBucket', 'CancelOptions', 'BulkCancelFilter', 'BulkCancelReport'],
        ...['RunCancelResult', 'RunStatsBucket', 'Percentiles', 'InstanceOptions', 'InstanceInfo'],
        ...['InstanceRole', 'InstanceRun', 'InstanceState', 'InstanceStatus'],
        ...['RunEvents', 'RunEventName', 'BusEvent'],
        ...['RUN_STATUSES', 'TERMINAL_STATUSES', 'isTerminal', 'RunStatus', 'runAttemptHistory'],
        ...['Run', 'RunAttempt', 'RunAttemptEntry', 'AttemptOutcome', 'RunItem', 'RunProgress'],
        ...['RunTrigger', 'ItemStatus', 'LogEntry', 'LogLevel', 'StoredLogEntry'],
        ...['RunCancelledError', 'isCancellation', 'CancelMode', 'CancelRecord', 'AbortKind'],
        ...['JobdeckError', 'hasErrorCode', 'ErrorCode', 'FieldIssue', 'RunError'],
        ...['SYSTEM_PRINCIPAL', 'Role', 'Principal'],
        ...['Store', 'SqliteStore', 'SqliteStoreOptions', 'PostgresStore', 'PostgresStoreOptions'],
        ...['openStore', 'TestClock', 'Clock'],
        ...['AlertsConfigError', 'loadAlertsFile', 'parseAlertsConfig', 'AlertEventName'],
        ...['AlertRule', 'AlertSeverity', 'AlertsConfig', 'AlertsConfigIssue', 'ChannelConfig'],
        ...['AlertAttemptReport', 'AlertTestResult', 'AlertView', 'webhookSignature'],
        ...['JobdeckClient', 'ApiError', 'UnreachableError', 'ClientOptions', 'ClientEvent'],
        ...[
          'EventFilter',
          'JobInfo',
          'LogInfo',
          'RunInfo',
          'RunDetailInfo',
          'RunChildInfo',
          'WorkerInfo',
        ],
        ...['AlertInfo', 'AlertTestInfo', 'StatsInfo'],
        ...['CreateManyItem', 'CreateManyResult', 'RunRefusal', 'RUN_BATCH_MAX'],
        ...['TriggerManyItem', 'TriggerManyResult'],
      ].sort(),
    );
  });

  it('exports the typed client the README names, and no engine class', async () => {
    const pkg: Record<string, unknown> = await import('../src/index.js');
    expect(pkg.JobdeckClient).toBe(JobdeckClient);
    for (const internal of ['Worker', 'Scheduler', 'Maintenance', 'RunService', 'CancelService'])
      expect(pkg[internal], internal).toBeUndefined();
    for (const internal of ['backoffDelay', 'TRANSITIONS', 'EventBus', 'JobRegistry'])
      expect(pkg[internal], internal).toBeUndefined();
  });
});

describe('a job rate limit', () => {
  it('reads { max, per } and refuses a count or window it cannot use, naming the field', () => {
    const job = defineJob({ name: 'limited', rateLimit: { max: 100, per: '1m' }, run() {} });
    expect(job.rateLimit).toEqual({ max: 100, perMs: 60_000 });
    expect(defineJob({ name: 'free', run() {} }).rateLimit).toBeNull();
    const refusals: [unknown, string][] = [
      [{ max: 0, per: '1s' }, 'rateLimit.max'],
      [{ max: 1.5, per: '1s' }, 'rateLimit.max'],
      [{ per: '1s' }, 'rateLimit.max'],
      [{ max: 5, per: 0 }, 'rateLimit.per'],
      [{ max: 5 }, 'rateLimit.per'],
      [{ max: 5, per: 'soon' }, 'rateLimit.per'],
      ['10/s', 'rateLimit.per'],
    ];
    for (const [rateLimit, field] of refusals) {
      const define = () =>
        defineJob({ name: 'bad', rateLimit: rateLimit as { max: number; per: string }, run() {} });
      expect(define, JSON.stringify(rateLimit)).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT' }),
      );
      expect(define, JSON.stringify(rateLimit)).toThrow(field);
    }
  });
});
