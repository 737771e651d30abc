import { afterEach, beforeEach, expect } from 'vitest';
import type { ErrorCode } from '../../core/errors.js';
import { newRunId } from '../../core/ids.js';
import type { Run } from '../../core/run.js';
import type { AttemptRef, RunClaimParams, RunInsertParams, Store } from '../store.js';

/** A store opened for one test, and how to throw it away. */
export interface StoreFixture {
  store: Store;
  cleanup: () => Promise<void>;
}

/** Opens a fresh, migrated store with its own empty database. */
export type MakeStore = () => Promise<StoreFixture>;

/**
 * Opens two fresh, migrated store instances over one and the same database, as two instances of
 * the application would (two processes, two hosts).
 */
export type MakeStorePair = () => Promise<{
  stores: [Store, Store];
  cleanup: () => Promise<void>;
}>;

/** What every area of the suite is given. */
export interface ConformanceContext {
  makeStore: MakeStore;
  makeStorePair: MakeStorePair | undefined;
}

/** A fixed instant all tests count from, so times (leases, expiry, retention) are deterministic. */
export const BASE = new Date('2030-01-01T00:00:00.000Z');
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** The lease the helpers claim with. */
export const LEASE_MS = 30 * SECOND;

/** BASE plus `ms`. */
export function at(ms: number): Date {
  return new Date(BASE.getTime() + ms);
}

/** A fresh store per test (beforeEach), cleaned up after it (afterEach); call inside a describe. */
export function useStore(makeStore: MakeStore): () => Store {
  let fixture: StoreFixture | undefined;
  beforeEach(async () => {
    fixture = await makeStore();
  });
  afterEach(async () => {
    const done = fixture;
    fixture = undefined;
    await done?.cleanup();
  });
  return () => {
    if (!fixture) throw new Error('the store exists only while a test runs');
    return fixture.store;
  };
}

/** Like {@link useStore}, for two instances over one database. */
export function useStorePair(makeStorePair: MakeStorePair): () => [Store, Store] {
  let pair: Awaited<ReturnType<MakeStorePair>> | undefined;
  beforeEach(async () => {
    pair = await makeStorePair();
  });
  afterEach(async () => {
    const done = pair;
    pair = undefined;
    await done?.cleanup();
  });
  return () => {
    if (!pair) throw new Error('the stores exist only while a test runs');
    return pair.stores;
  };
}

/** Insert params with defaults: job `email`, pending at BASE, 3 attempts, by `alice`. */
export function insertParams(overrides: Partial<RunInsertParams> = {}): RunInsertParams {
  return {
    id: newRunId(),
    job: 'email',
    input: { to: 'someone@example.com' },
    priority: 0,
    runAt: BASE,
    maxAttempts: 3,
    createdBy: 'alice',
    trigger: 'api',
    idempotencyKey: null,
    expireAt: null,
    retentionMs: DAY,
    retryOf: null,
    parentId: null,
    now: BASE,
    exclusive: false,
    ...overrides,
  };
}

/** Insert a run and return it (asserting it was created). */
export async function insertRun(
  store: Store,
  overrides: Partial<RunInsertParams> = {},
): Promise<Run> {
  const { run, created } = await store.runInsert(insertParams(overrides));
  expect(created).toBe(true);
  return run;
}

/** Claim params for one job without a concurrency cap. */
export function claimParams(overrides: Partial<RunClaimParams> = {}): RunClaimParams {
  return {
    workerId: 'worker-a',
    now: BASE,
    leaseMs: LEASE_MS,
    limit: 10,
    jobs: [{ name: 'email', concurrency: null }],
    ...overrides,
  };
}

/** Insert a run and claim it; asserts the claim returned exactly that run. */
export async function startRun(
  store: Store,
  options: { workerId?: string; now?: Date; insert?: Partial<RunInsertParams> } = {},
): Promise<Run> {
  const run = await insertRun(store, { now: options.now ?? BASE, ...options.insert });
  const claimed = await store.runClaim(
    claimParams({
      workerId: options.workerId ?? 'worker-a',
      now: options.now ?? BASE,
      limit: 1,
      jobs: [{ name: run.job, concurrency: null }],
    }),
  );
  expect(claimed.map((r) => r.id)).toEqual([run.id]);
  return claimed[0]!;
}

/**
 * A run of job `email` waiting for one child (a pending run of job `sms`, which claims of `email`
 * leave alone): the parent and the child.
 */
export async function waitingRun(
  store: Store,
  options: { now?: Date; insert?: Partial<RunInsertParams> } = {},
): Promise<{ parent: Run; child: Run }> {
  const parent = await startRun(store, options);
  const child = await insertRun(store, {
    job: 'sms',
    parentId: parent.id,
    trigger: 'parent',
    now: options.now ?? BASE,
  });
  const waiting = await store.runFinishIfAttempt({
    ref: refOf(parent),
    now: options.now ?? BASE,
    outcome: { status: 'waiting', children: [child.id] },
  });
  expect(waiting.status).toBe('waiting');
  return { parent: waiting, child };
}

/** Force-cancel a run (asked by `bob` at `now`); the run as the cancel left it. */
export async function forceCancel(store: Store, id: string, now: Date): Promise<Run> {
  return (await store.runCancel({ id, mode: 'force', reason: null, requestedBy: 'bob', now })).run;
}

/** The fence of a claimed run's attempt. */
export function refOf(run: Run): AttemptRef {
  if (run.workerId === null) throw new Error(`run ${run.id} is not held by a worker`);
  return { id: run.id, attempt: run.attempt, workerId: run.workerId };
}

/** The run as stored now; fails the test when it is missing. */
export async function getRun(store: Store, id: string): Promise<Run> {
  const run = await store.runGet({ id });
  expect(run, `run ${id} should exist`).not.toBeNull();
  return run!;
}

/** Expect `action` to reject with an error whose `code` is `code` (errors are matched by code). */
export async function expectErrorCode(action: Promise<unknown>, code: ErrorCode): Promise<void> {
  let threw = false;
  let caught: unknown;
  try {
    await action;
  } catch (err) {
    threw = true;
    caught = err;
  }
  expect(threw, `expected a rejection with code ${code}`).toBe(true);
  expect((caught as { code?: unknown } | null)?.code, String(caught)).toBe(code);
}
