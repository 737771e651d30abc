/**
 * The run page of a parent run in headless Chromium: the Children table follows its children live
 * (their status and end, from the feed alone, while the parent's own status stays the same), a
 * child's page links its Parent, the stop confirmation says unfinished children stop too, and the
 * runs page lists a run's children with ?parent=.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Run } from '../../src/core/run.js';
import { shortId } from '../../src/dashboard/app/format.js';
import {
  chromiumAvailable,
  consoleErrors,
  launchBrowser,
  screenshot,
  signedIn,
} from '../helpers/browser.js';
import { EVENT_DEADLINE_MS } from '../helpers/poll.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import { Gates, createRun, gateJob } from '../e2e/support.js';

const available = chromiumAvailable();
const gates = new Gates();
const PARENT = 'e2e.children.parent';
const CHILD = 'e2e.children.child';
vi.setConfig({ testTimeout: 3 * EVENT_DEADLINE_MS, hookTimeout: 2 * EVENT_DEADLINE_MS });
const LIVE = { timeout: EVENT_DEADLINE_MS };

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: string[];

/** Each body row of the Children table: id, job, status, and whether it shows an end. */
async function childRows(): Promise<string[][]> {
  const rows = page.getByRole('table', { name: 'Children' }).locator('tbody tr');
  const cells: string[][] = [];
  for (const row of await rows.all()) {
    const texts = (await row.locator('td').allTextContents()).map((text) => text.trim());
    cells.push([texts[0]!, texts[1]!, texts[2]!, texts[3] === '—' ? 'not ended' : 'ended']);
  }
  return cells;
}

/** A child of `parent`, as its handler's ctx.spawn would start it, held at gate `key`. */
function spawn(parent: Run, key: string): Promise<Run> {
  return server.deck.runs.createChild(parent, { job: CHILD, input: { key, steps: 1 }, key });
}

describe.skipIf(!available)('run page: child runs', () => {
  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startTestServer([gateJob(gates, { name: PARENT }), gateJob(gates, { name: CHILD })]),
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

  it('the Children table follows children live; a child links its Parent; a stop names them', async () => {
    const key = gates.key('parent');
    const { id } = await createRun(server, PARENT, { input: { key } });
    await gates.get(key).entered.promise;
    const parent = await server.deck.runs.get(id);
    const first = await spawn(parent, gates.key('child'));
    const second = await spawn(parent, gates.key('child'));
    const [a, b] = [first.input as { key: string }, second.input as { key: string }];
    await page.goto(`${server.url}/dashboard/runs/${id}`);
    await page.locator('h1 .badge', { hasText: 'running' }).waitFor(LIVE);
    await page.getByRole('table', { name: 'Children' }).waitFor(LIVE);
    await gates.get(a.key).entered.promise;
    await gates.get(b.key).entered.promise;
    await expect
      .poll(() => childRows(), LIVE)
      .toEqual([
        [shortId(first.id), CHILD, 'running', 'not ended'],
        [shortId(second.id), CHILD, 'running', 'not ended'],
      ]);
    // The parent stays running: only the children's events can change the table.
    gates.get(a.key).release.resolve();
    await expect
      .poll(async () => (await childRows())[0], LIVE)
      .toEqual([shortId(first.id), CHILD, 'completed', 'ended']);
    await screenshot(page, 'run-children');

    // One child still runs: the confirmation says it stops with its parent.
    await page.getByRole('button', { name: 'Stop gracefully' }).click();
    const dialog = page.getByRole('dialog', { name: 'Stop gracefully?' });
    await dialog
      .getByText('Its unfinished child runs are stopped with it, in the same mode.')
      .waitFor(LIVE);
    await dialog.getByRole('button', { name: 'Keep running' }).click();

    // A child's page links its parent, and back.
    await page.getByRole('table', { name: 'Children' }).getByRole('link').first().click();
    await page.waitForURL(`**/dashboard/runs/${first.id}`);
    const parentLink = page.locator('.facts > div', { hasText: 'Parent' }).getByRole('link');
    await expect.poll(() => parentLink.textContent(), LIVE).toBe(shortId(id));
    await parentLink.click();
    await page.waitForURL(`**/dashboard/runs/${id}`);
    await page.getByRole('table', { name: 'Children' }).waitFor(LIVE);

    // The runs page lists them alone with ?parent=, and shows all runs again on request.
    await page.goto(`${server.url}/dashboard/runs?parent=${id}`);
    await page.getByText(`Child runs of ${shortId(id)}`).waitFor(LIVE);
    const rows = page.locator('table.runs tbody tr');
    await expect.poll(() => rows.count(), LIVE).toBe(2);
    expect(await rows.nth(0).textContent()).toContain(CHILD);
    await page.getByRole('button', { name: 'Show all runs' }).click();
    await expect.poll(() => rows.count(), LIVE).toBe(3);
    // ?parentId=, as the API names it, does the same.
    await page.goto(`${server.url}/dashboard/runs?parentId=${id}`);
    await page.getByText(`Child runs of ${shortId(id)}`).waitFor(LIVE);
    await expect.poll(() => rows.count(), LIVE).toBe(2);
    await page.getByRole('button', { name: 'Show all runs' }).click();
    await expect.poll(() => rows.count(), LIVE).toBe(3);
    expect(new URL(page.url()).search).toBe('');
    await page.goto(`${server.url}/dashboard/runs/${id}`);
    await page.getByRole('table', { name: 'Children' }).waitFor(LIVE);

    gates.get(b.key).release.resolve();
    gates.get(key).release.resolve();
    await page.locator('h1 .badge', { hasText: 'completed' }).waitFor(LIVE);
    await expect
      .poll(() => childRows(), LIVE)
      .toEqual([
        [shortId(first.id), CHILD, 'completed', 'ended'],
        [shortId(second.id), CHILD, 'completed', 'ended'],
      ]);
    expect(errors).toEqual([]);
  });
});
