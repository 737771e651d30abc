/**
 * The dashboard in headless Chromium, where users type and where the API says no: filter text
 * typed while live events arrive, the Trigger form's JSON box refused by the job's schema, the
 * API's field messages shown for bad searches and run ids (with long text kept on screen), and
 * a fan-out whose item names are longer than the screen.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { z } from 'zod';
import { demoNodes } from '../../src/demo/jobs.js';
import { defineJob } from '../../src/jobs/define.js';
import { chromiumAvailable, horizontalOverflow, screenshot } from '../helpers/browser.js';
import { DashboardFixture, QUICK } from '../helpers/dashboard-fixture.js';
import { EVENT_DEADLINE_MS } from '../helpers/poll.js';
import { TEST_TOKENS, type TestServer } from '../helpers/server.js';
import { createRun, getRun, waitForStatus } from '../e2e/support.js';

// Waits run up to EVENT_DEADLINE_MS: a test on a loaded machine gets longer than that, never red.
vi.setConfig({ testTimeout: 3 * EVENT_DEADLINE_MS, hookTimeout: 2 * EVENT_DEADLINE_MS });

const available = chromiumAvailable();
const LIVE = { timeout: EVENT_DEADLINE_MS };
const TICKER = 'e2e.ticker';
const fixture = new DashboardFixture();
const { gates } = fixture;
let server: TestServer;

/** Reports progress about every 100 ms until its gate is released: live events, all the time. */
const tickerJob = defineJob({
  name: TICKER,
  maxAttempts: 1,
  input: z.object({ key: z.string() }),
  async run(ctx, input) {
    const gate = gates.get(input.key);
    let released = false;
    void gate.release.promise.then(() => (released = true));
    gate.entered.resolve();
    let ticks = 0;
    while (!released && !ctx.signal.aborted) {
      ctx.progress({ processed: ++ticks, total: 1_000_000, message: 'ticking' });
      // The handler's own pace, not a test's wait.
      await delay(100, undefined, { signal: ctx.signal }).catch(() => {});
    }
    return { ticks };
  },
});

/** Waits until the run's progress text on the page changes: a live event arrived and rendered. */
async function progressMoves(page: Page, id: string): Promise<void> {
  const text = page.locator(`tr[data-run="${id}"] .progress-text`);
  await text.waitFor(LIVE);
  const before = await text.textContent();
  await expect.poll(() => text.textContent(), LIVE).not.toBe(before);
}

/** Whether the element lies within the viewport from left to right (not scrolled out of view). */
async function withinViewport(page: Page, element: Locator): Promise<boolean> {
  const box = (await element.boundingBox())!;
  return box.x >= 0 && box.x + box.width <= page.viewportSize()!.width;
}

/**
 * Types into Started by and Search runs slowly while the run `tickerId` reports progress, and
 * checks that the text stays and that Enter applies all of it.
 */
async function typeWhileTicking(page: Page, tickerId: string): Promise<void> {
  await page.goto(`${server.url}/dashboard/runs`);
  await progressMoves(page, tickerId);

  // Slowly, so several live refreshes land between the keys.
  const startedBy = page.getByLabel('Started by');
  await startedBy.click();
  await page.keyboard.type('bob', { delay: 400 });
  expect(await startedBy.inputValue()).toBe('bob');
  await progressMoves(page, tickerId);
  expect(await startedBy.inputValue()).toBe('bob');
  await page.keyboard.press('Enter');
  await page.waitForURL(/createdBy=/, LIVE);
  expect(new URL(page.url()).searchParams.get('createdBy')).toBe('bob');
  // The ticker is alice's: the table empties, and the box keeps what was applied.
  await expect.poll(() => page.locator('table.runs tbody tr').count(), LIVE).toBe(0);
  expect(await startedBy.inputValue()).toBe('bob');
  // A link to the unfiltered list (same page) empties the box again.
  await page.locator('.top nav').getByRole('link', { name: 'Runs', exact: true }).click();
  await page.locator(`tr[data-run="${tickerId}"]`).waitFor(LIVE);
  expect(await startedBy.inputValue()).toBe('');

  await page.goto(`${server.url}/dashboard/runs`);
  await progressMoves(page, tickerId);
  const search = page.getByLabel('Search runs');
  const start = tickerId.slice(0, 18);
  await search.click();
  await page.keyboard.type(start, { delay: 120 });
  expect(await search.inputValue()).toBe(start);
  await progressMoves(page, tickerId);
  expect(await search.inputValue()).toBe(start);
  await page.keyboard.press('Enter');
  await page.waitForURL(/q=/, LIVE);
  expect(new URL(page.url()).searchParams.get('q')).toBe(start);
  await expect.poll(() => page.locator('table.runs tbody tr').count(), LIVE).toBe(1);
  await progressMoves(page, tickerId);
  expect(await search.inputValue()).toBe(start);
}

describe.skipIf(!available)('dashboard in a browser: typing, refusals and long text', () => {
  beforeAll(async () => {
    await fixture.start([tickerJob, demoNodes]);
    server = fixture.server;
  });

  afterAll(() => fixture.close());

  it('filter text typed while live events arrive stays; Enter applies all of it', async () => {
    const key = gates.key('tick');
    const ticker = await createRun(server, TICKER, { input: { key } }, TEST_TOKENS.alice);
    await gates.get(key).entered.promise;
    const page = await fixture.pageAs(TEST_TOKENS.alice);
    try {
      await typeWhileTicking(page, ticker.id);
    } finally {
      // Released whatever happened: the next tests want a quiet feed.
      gates.get(key).release.resolve();
    }
    await waitForStatus(server, ticker.id, 'completed');
  });

  it('Trigger with the JSON box: a wrong type or a missing field is named beside the box', async () => {
    const page = await fixture.pageAs(TEST_TOKENS.alice);
    // Each refused try is a 400 the browser logs; forgiven up front so one failure does not fail the next test too.
    fixture.forgive(page, /status of 400/);
    await page.goto(`${server.url}/dashboard/jobs/${demoNodes.name}`);
    await page.getByRole('button', { name: 'Trigger' }).click();
    const form = page.getByRole('form', { name: `Trigger ${demoNodes.name}` });
    const box = form.getByLabel('Input (JSON)');
    const problems = form.locator('.field-error');

    await box.fill('{"nodes":[1,2]}');
    await form.getByRole('button', { name: 'Start run' }).click();
    await problems.waitFor(LIVE);
    const wrongType = await problems.textContent();
    expect(wrongType).toContain('nodes.0');
    expect(wrongType).toContain('nodes.1');
    expect(wrongType).toContain('expected string, received number');
    expect(await box.getAttribute('aria-invalid')).toBe('true');
    expect(await box.getAttribute('aria-describedby')).toContain(await problems.getAttribute('id'));
    await screenshot(page, 'trigger-json-error');

    await box.fill('{"durationMs":10}');
    await form.getByRole('button', { name: 'Start run' }).click();
    // Polled for the new message: the one from the first try also names `nodes`.
    await expect.poll(() => problems.textContent(), LIVE).toContain('expected array');
    expect(await problems.textContent()).toContain('nodes');
    expect(await problems.textContent()).not.toContain('nodes.0');

    await box.fill('{"nodes":["n1"],"durationMs":0}');
    await form.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/\/dashboard\/runs\/[0-9a-f-]+$/, LIVE);
    const id = page.url().split('/').pop()!;
    expect((await getRun(server, id)).input).toMatchObject({ nodes: ['n1'] });
  });

  it('a search the API refuses shows its field message and no stale rows; long ids stay on screen', async () => {
    const { id } = await createRun(server, QUICK, { input: {} }, TEST_TOKENS.alice);
    await waitForStatus(server, id, 'completed');
    const page = await fixture.pageAs(TEST_TOKENS.alice);
    await page.goto(`${server.url}/dashboard/runs`);
    const rows = page.locator('table.runs tbody tr');
    await page.locator(`tr[data-run="${id}"]`).waitFor(LIVE);
    const search = page.getByLabel('Search runs');
    const alert = page.getByRole('alert');
    for (const text of ['zzz<b>', demoNodes.name]) {
      await search.fill(text);
      await search.press('Enter');
      await alert.waitFor(LIVE);
      expect(await alert.textContent()).toBe(
        'Search runs: a run id or the start of one: hex digits and dashes',
      );
      expect(await rows.count()).toBe(0);
      expect(await page.getByText('No runs match.').count()).toBe(0);
      expect(await search.getAttribute('aria-invalid')).toBe('true');
    }
    await screenshot(page, 'runs-search-refused');
    await search.fill('');
    await search.press('Enter');
    await page.locator(`tr[data-run="${id}"]`).waitFor(LIVE);
    expect(await alert.count()).toBe(0);
    expect(await search.getAttribute('aria-invalid')).toBe('false');

    await page.goto(`${server.url}/dashboard/runs/not-a-uuid`);
    await alert.waitFor(LIVE);
    expect(await alert.textContent()).toBe('Run id: expected a UUID (32 hex digits and 4 dashes)');

    const long = 'a'.repeat(5000);
    for (const width of [1280, 390]) {
      const sized = await fixture.pageAs(TEST_TOKENS.alice, { width });
      await sized.goto(`${server.url}/dashboard/runs/${long}`);
      const shown = sized.getByRole('alert');
      await shown.waitFor(LIVE);
      const message = (await shown.textContent())!;
      expect(message).not.toContain('aaaaaaaaaa');
      expect(message).not.toMatch(/exceeding|params/);
      expect(message).toContain('256');
      expect(await horizontalOverflow(sized), `at ${width} px`).toBeLessThanOrEqual(0);
      expect(await withinViewport(sized, sized.locator('main h1')), `h1 at ${width} px`).toBe(true);
      expect(await sized.locator('main h1').getAttribute('title')).toBe(`Run ${long}`);
      await screenshot(sized, `run-long-id-${width}`);
      fixture.forgive(sized, /status of 400/);
    }
    fixture.forgive(page, /status of 400/);
  });

  it('a fan-out item with a very long name keeps Status and Error in view at 1280 and 390 px', async () => {
    const long = `db-replica-${'x'.repeat(189)}`;
    const { id } = await createRun(server, demoNodes.name, {
      input: { nodes: [long, 'short'], durationMs: 0, failNodes: [long] },
    });
    await waitForStatus(server, id, 'partial');
    for (const width of [1280, 390]) {
      const page = await fixture.pageAs(TEST_TOKENS.viewer, { width });
      await page.goto(`${server.url}/dashboard/runs/${id}`);
      const items = page.locator('table', {
        has: page.getByRole('columnheader', { name: 'Item' }),
      });
      const row = items.locator('tbody tr', { hasText: 'db-replica-' });
      const status = row.locator('.badge', { hasText: 'failed' });
      await status.waitFor(LIVE);
      expect(await withinViewport(page, status), `Status at ${width} px`).toBe(true);
      expect(await row.locator('[title]').first().getAttribute('title')).toBe(long);
      // Nothing to scroll to: the whole table, Error included, fits its box.
      expect(
        // A string: this runs in the page, and the test's TypeScript has no DOM types.
        await page.evaluate<number>(
          `(() => { const wrap = document.querySelector('table[aria-label="Items"]').parentElement;
            return wrap.scrollWidth - wrap.clientWidth; })()`,
        ),
        `Items table at ${width} px`,
      ).toBeLessThanOrEqual(0);
      expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, `run-long-item-${width}`);
    }
  });

  it('no page logged a console error', () => {
    expect(fixture.allErrors()).toEqual([]);
  });
});
