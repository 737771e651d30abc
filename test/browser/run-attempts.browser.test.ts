/**
 * The run page in headless Chromium: the Attempts table (a failed attempt, then the one running,
 * followed live to its end), the cancel record's Delivered time after a stop, and the Steps table
 * following a run's durable steps live.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { z } from 'zod';
import { shortId } from '../../src/dashboard/app/format.js';
import { defineJob } from '../../src/jobs/define.js';
import {
  chromiumAvailable,
  consoleErrors,
  launchBrowser,
  screenshot,
  signedIn,
} from '../helpers/browser.js';
import { EVENT_DEADLINE_MS } from '../helpers/poll.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import {
  Gates,
  createRun,
  quickJob,
  unlessAborted,
  waitForLog,
  waitForStatus,
} from '../e2e/support.js';

const available = chromiumAvailable();
const gates = new Gates();
const FLAKY = 'e2e.attempts.flaky-gate';
const QUICK = 'e2e.attempts.quick';
// A loaded machine runs browser steps slowly: each test may take a few event deadlines.
vi.setConfig({ testTimeout: 3 * EVENT_DEADLINE_MS, hookTimeout: 2 * EVENT_DEADLINE_MS });
const LIVE = { timeout: EVENT_DEADLINE_MS };

/** Fails its first attempt; the second waits at its gate, then passes one more checkpoint. */
const flakyGateJob = defineJob({
  name: FLAKY,
  maxAttempts: 2,
  backoff: { base: 10, jitter: 0 },
  input: z.object({ key: z.string() }),
  async run(ctx, input) {
    if (ctx.run.attempt === 1) throw new Error('first try fails');
    const gate = gates.get(input.key);
    await ctx.step('wait', async (signal) => {
      gate.entered.resolve();
      await unlessAborted(gate.release.promise, signal);
    });
    await ctx.step('finish', () => undefined);
    return { done: true };
  },
});

const TWO_STEPS = 'e2e.attempts.two-steps';
/** Two durable steps, each held at its own gate (`${key}/one`, `${key}/two`). */
const twoStepJob = defineJob({
  name: TWO_STEPS,
  maxAttempts: 1,
  input: z.object({ key: z.string() }),
  async run(ctx, input) {
    for (const name of ['one', 'two']) {
      const gate = gates.get(`${input.key}/${name}`);
      await ctx.step(name, async (signal) => {
        gate.entered.resolve();
        await unlessAborted(gate.release.promise, signal);
        return name;
      });
    }
  },
});

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: string[];

/** The cells' text of each body row of the Attempts table. */
async function attemptRows(): Promise<string[][]> {
  const rows = page.getByRole('table', { name: 'Attempts' }).locator('tbody tr');
  const cells: string[][] = [];
  for (const row of await rows.all()) {
    cells.push((await row.locator('td').allTextContents()).map((text) => text.trim()));
  }
  return cells;
}

/** The cells' text of each body row of the Steps table, without the times. */
async function stepRows(): Promise<string[][]> {
  const rows = page.getByRole('table', { name: 'Steps' }).locator('tbody tr');
  const cells: string[][] = [];
  for (const row of await rows.all()) {
    const texts = (await row.locator('td').allTextContents()).map((text) => text.trim());
    cells.push([texts[0]!, texts[1]!, texts[2]!, texts[4] === '—' ? 'not ended' : 'ended']);
  }
  return cells;
}

/** The value the cancel record shows for `term`. */
function cancelFact(term: string) {
  return page.locator('.cancel-record .facts > div', { hasText: term }).locator('dd');
}

/** A time as the page's locale writes it (the page formats with toLocaleString). */
function inPageLocale(iso: string): Promise<string> {
  return page.evaluate<string>(`new Date(${JSON.stringify(iso)}).toLocaleString()`);
}

describe.skipIf(!available)('run page: attempts and cancel delivery', () => {
  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startTestServer([flakyGateJob, twoStepJob, quickJob(QUICK)]),
      launchBrowser(),
    ]);
    context = await signedIn(browser, server, TEST_TOKENS.alice);
    page = await context.newPage();
    errors = consoleErrors(page);
  }, 60_000);

  afterAll(async () => {
    gates.releaseAll();
    await context?.close().catch(() => {});
    await browser?.close();
    await server?.close();
  });

  it('lists each attempt; a stop shows when it was delivered; the table follows the run to its end', async () => {
    const key = gates.key();
    const { id } = await createRun(server, FLAKY, { input: { key } });
    await gates.get(key).entered.promise;
    const worker = shortId(server.deck.worker!.id);

    await page.goto(`${server.url}/dashboard/runs/${id}`);
    await page.getByRole('heading', { name: 'Attempts', exact: true }).waitFor(LIVE);
    await expect
      .poll(() => attemptRows(), LIVE)
      .toEqual([
        [
          '1',
          worker,
          expect.any(String),
          expect.any(String),
          'failed',
          'HANDLER_ERROR: first try fails',
        ],
        ['2', worker, expect.any(String), '—', 'running', ''],
      ]);
    const [first] = await attemptRows();
    expect(first![2]).not.toBe('—');
    expect(first![3]).not.toBe('—');

    await page.getByRole('button', { name: 'Stop gracefully' }).click();
    const dialog = page.getByRole('dialog', { name: 'Stop gracefully?' });
    await dialog.getByLabel('Reason').fill('enough tries');
    await dialog.getByRole('button', { name: 'Stop run' }).click();
    await page.locator('h1 .badge', { hasText: 'cancelling' }).waitFor(LIVE);

    // The worker's `cancel delivered` entry gives the time, streamed to the page as it is written.
    const delivered = await waitForLog(server, id, 'cancel delivered');
    expect(delivered.data).toEqual({ mode: 'graceful' });
    const logs = await server.request('GET', `/api/runs/${id}/logs`, {
      token: TEST_TOKENS.viewer,
    });
    const entry = (logs.body.logs as { seq: number; time: string }[]).find(
      (log) => log.seq === delivered.seq,
    )!;
    await expect
      .poll(() => cancelFact('Delivered').textContent(), LIVE)
      .toContain('after the request');
    expect(await cancelFact('Delivered').textContent()).toContain(await inPageLocale(entry.time));
    await screenshot(page, 'run-attempts-cancelling');

    // Past the gate the next step is a checkpoint: the run ends cancelled, the table follows.
    gates.get(key).release.resolve();
    await page.locator('h1 .badge', { hasText: 'cancelled' }).waitFor(LIVE);
    await expect.poll(async () => (await attemptRows())[1]?.[4], LIVE).toBe('cancelled');
    const [, second] = await attemptRows();
    expect(second![3]).not.toBe('—');
    expect(await cancelFact('Delivered').textContent()).toContain('after the request');
    await screenshot(page, 'run-attempts');
    expect(errors).toEqual([]);
  });

  it('the Steps table follows the durable steps live, without reloading the run', async () => {
    const key = gates.key();
    const { id } = await createRun(server, TWO_STEPS, { input: { key } });
    await gates.get(`${key}/one`).entered.promise;
    await page.goto(`${server.url}/dashboard/runs/${id}`);
    await page.getByRole('heading', { name: 'Steps', exact: true }).waitFor(LIVE);
    await expect.poll(() => stepRows(), LIVE).toEqual([['one', 'running', '1', 'not ended']]);
    // The run stays running meanwhile: only the feed's run.step events can change the table.
    gates.get(`${key}/one`).release.resolve();
    await gates.get(`${key}/two`).entered.promise;
    await expect
      .poll(() => stepRows(), LIVE)
      .toEqual([
        ['one', 'completed', '1', 'ended'],
        ['two', 'running', '1', 'not ended'],
      ]);
    await screenshot(page, 'run-steps');
    gates.get(`${key}/two`).release.resolve();
    await page.locator('h1 .badge', { hasText: 'completed' }).waitFor(LIVE);
    await expect
      .poll(async () => (await stepRows())[1], LIVE)
      .toEqual(['two', 'completed', '1', 'ended']);
    expect(errors).toEqual([]);
  });

  it('Pause lands after the current step; Resume goes on with the next step, live', async () => {
    const key = gates.key();
    const { id } = await createRun(server, TWO_STEPS, { input: { key } });
    await gates.get(`${key}/one`).entered.promise;
    await page.goto(`${server.url}/dashboard/runs/${id}`);
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('Pausing after the current step…').waitFor(LIVE);
    expect(await page.locator('h1 .badge').textContent()).toBe('running');
    // A pause reaches the worker with its next heartbeat: the step ends once it has.
    await waitForLog(server, id, 'pause delivered');
    gates.get(`${key}/one`).release.resolve();
    await page.locator('h1 .badge', { hasText: 'paused' }).waitFor(LIVE);
    await expect.poll(() => stepRows(), LIVE).toEqual([['one', 'completed', '1', 'ended']]);
    await screenshot(page, 'run-paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await gates.get(`${key}/two`).entered.promise;
    gates.get(`${key}/two`).release.resolve();
    await page.locator('h1 .badge', { hasText: 'completed' }).waitFor(LIVE);
    // Step one ran once, in attempt 1; step two in the attempt after the resume.
    await expect
      .poll(() => stepRows(), LIVE)
      .toEqual([
        ['one', 'completed', '1', 'ended'],
        ['two', 'completed', '2', 'ended'],
      ]);
    expect(errors).toEqual([]);
  });

  it('a run that completed first time has one attempt', async () => {
    const { id } = await createRun(server, QUICK, { input: {} });
    await waitForStatus(server, id, 'completed');
    await page.goto(`${server.url}/dashboard/runs/${id}`);
    await page.getByRole('heading', { name: 'Attempts', exact: true }).waitFor(LIVE);
    const rows = await attemptRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]![0]).toBe('1');
    expect(rows[0]![4]).toBe('completed');
    expect(await page.locator('.cancel-record').count()).toBe(0);
    expect(errors).toEqual([]);
  });
});
