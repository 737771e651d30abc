/**
 * deck.runs.createMany in the library: the system principal by default, the operator role, one
 * answer per run in order across chunks, keys that repeat across chunks, and the bus events a
 * single create emits.
 */
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { CREATE_MANY_CHUNK, type CreateManyItem } from '../src/runs/service.js';
import { defineJob } from '../src/jobs/define.js';
import { openTestDeck, type TestDeck } from './helpers/deck.js';

let t: TestDeck;
afterEach(() => t.close());

const report = defineJob({
  name: 'report',
  input: z.object({ n: z.number().int() }),
  run: (_ctx, input) => ({ n: input.n }),
});
const nightly = defineJob({ name: 'nightly', allowConcurrent: false, run: () => null });

it('creates runs as the system principal, answering each run in order, an error as {code, message, details}', async () => {
  t = await openTestDeck([report], { worker: false });
  const results = await t.deck.runs.createMany([
    { job: 'report', input: { n: 1 } },
    { job: 'report', input: { n: 'one' } },
    { job: 'missing' },
    { job: 'report', input: { n: 2 }, priority: 3 },
  ]);
  expect(results[0]).toMatchObject({
    created: true,
    run: { input: { n: 1 }, createdBy: 'system' },
  });
  expect(results[1]).toEqual({
    error: {
      code: 'INVALID_INPUT',
      message: 'The input is not valid.',
      details: [{ path: ['input', 'n'], message: expect.any(String) }],
    },
  });
  expect(results[2]).toEqual({
    error: { code: 'JOB_NOT_FOUND', message: expect.stringContaining('missing') },
  });
  expect(results[3]).toMatchObject({ created: true, run: { priority: 3, trigger: 'api' } });
  const stored = await t.deck.runs.list({ job: 'report' });
  expect(stored.runs.map((run) => run.input)).toEqual([{ n: 2 }, { n: 1 }]);
});

it('refuses a principal below operator for the whole call, creating nothing', async () => {
  t = await openTestDeck([report], { worker: false });
  await expect(
    t.deck.runs.createMany([{ job: 'report', input: { n: 1 } }], {
      principal: { name: 'watcher', role: 'viewer' },
    }),
  ).rejects.toMatchObject({ code: 'FORBIDDEN' });
  expect((await t.deck.runs.list()).runs).toEqual([]);
});

it('refuses a list that is not an array with INVALID_INPUT naming it', async () => {
  t = await openTestDeck([report], { worker: false });
  await expect(t.deck.runs.createMany(null as unknown as CreateManyItem[])).rejects.toMatchObject({
    code: 'INVALID_INPUT',
    message: expect.stringContaining('items'),
  });
});

it('keeps the order and the keys across chunks, and emits run.created for each new run', async () => {
  t = await openTestDeck([report, nightly], { worker: false });
  const announced: string[] = [];
  t.deck.events.on('run.created', ({ payload }) => announced.push(payload.run.id));
  const count = CREATE_MANY_CHUNK * 2 + 10;
  const items: CreateManyItem[] = Array.from({ length: count }, (_, n) => ({
    job: 'report',
    input: { n },
    // The first run's key comes again in the last chunk.
    ...(n === 0 || n === count - 1 ? { idempotencyKey: 'first-and-last' } : {}),
  }));
  // Between them, a job without concurrent runs: one run of it, then ALREADY_RUNNING.
  items.splice(1, 0, { job: 'nightly' }, { job: 'nightly' });
  const results = await t.deck.runs.createMany(items, {
    principal: { name: 'ops', role: 'operator' },
  });
  expect(results).toHaveLength(count + 2);
  expect(results[1]).toMatchObject({ created: true, run: { job: 'nightly', createdBy: 'ops' } });
  expect(results[2]).toMatchObject({ error: { code: 'ALREADY_RUNNING' } });
  const reports = [results[0]!, ...results.slice(3)];
  expect(reports.map((r) => 'run' in r && (r.run.input as { n: number }).n)).toEqual(
    Array.from({ length: count }, (_, n) => (n === count - 1 ? 0 : n)),
  );
  const last = reports.at(-1)!;
  expect(last).toMatchObject({ created: false });
  expect('run' in last && 'run' in reports[0]! && last.run.id === reports[0].run.id).toBe(true);
  const createdIds = results.flatMap((r) => ('run' in r && r.created ? [r.run.id] : []));
  expect(createdIds).toHaveLength(count);
  expect([...announced].sort()).toEqual([...createdIds].sort());
  expect((await t.deck.runs.count({})).total).toBe(count);
});
