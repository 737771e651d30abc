/**
 * The dashboard in headless Chromium against a real server on SQLite, as its users use it: every
 * page without console errors, Stop both ways on a real running run followed live to its end,
 * Retry, Trigger with a field error then success, the Enabled switch, filters, paging, deep links,
 * sign-out, role-aware controls, 390 px and the dark theme. Screenshots: test-artifacts/screenshots.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { z } from 'zod';
import { defineJob } from '../../src/jobs/define.js';
import { chromiumAvailable, horizontalOverflow, screenshot } from '../helpers/browser.js';
import { DashboardFixture, FAILING, GATE, QUICK } from '../helpers/dashboard-fixture.js';
import { EVENT_DEADLINE_MS, pollUntil } from '../helpers/poll.js';
import { TEST_TOKENS, type TestServer } from '../helpers/server.js';
import { createRun, getRun, waitForStatus } from '../e2e/support.js';

// Waits run up to EVENT_DEADLINE_MS: a test on a loaded machine gets longer than that, never red.
vi.setConfig({ testTimeout: 3 * EVENT_DEADLINE_MS, hookTimeout: 2 * EVENT_DEADLINE_MS });

const available = chromiumAvailable();
const FORM = 'e2e.form';
const LIVE = { timeout: EVENT_DEADLINE_MS };

const formJob = defineJob({
  name: FORM,
  category: 'reports',
  description: 'Builds a report for `region`.\n\nRuns **once** per call.',
  maxAttempts: 1,
  input: z.object({
    region: z.string().min(3).describe('Three letters or more'),
    copies: z.number().int().min(1).default(2),
    format: z.enum(['pdf', 'csv']).default('pdf'),
  }),
  run: (ctx, input) => {
    ctx.log.info(`report for ${input.region}`);
    ctx.log.warn('a warning line');
    return { copies: input.copies };
  },
});

const fixture = new DashboardFixture();
const { gates, pages, contexts } = fixture;
let server: TestServer;
let browser: Browser;
const pageAs = (token: string, options?: Parameters<DashboardFixture['pageAs']>[1]) =>
  fixture.pageAs(token, options);
const allErrors = () => fixture.allErrors();
const heldRun = (token?: string) => fixture.heldRun(token);

describe.skipIf(!available)('dashboard in a browser', () => {
  let alice: Page;
  let admin: Page;

  beforeAll(async () => {
    await fixture.start([formJob]);
    ({ server, browser } = fixture);
    [alice, admin] = await Promise.all([pageAs(TEST_TOKENS.alice), pageAs(TEST_TOKENS.admin)]);
  });

  afterAll(() => fixture.close());

  it('signs in with a token that is never shown again; header names the principal and role', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${server.url}/dashboard/jobs`);
    await page.getByLabel('API token').fill(TEST_TOKENS.bob);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('.principal').textContent(), LIVE).toContain('bob');
    expect(await page.locator('.principal').textContent()).toContain('operator');
    // The deep link survives signing in, and the token is nowhere on the page.
    expect(new URL(page.url()).pathname).toBe('/dashboard/jobs');
    expect(await page.content()).not.toContain(TEST_TOKENS.bob);
    await screenshot(page, 'jobs');
  });

  it('every page loads without console errors (screenshots of each)', async () => {
    const done = await createRun(server, FORM, { input: { region: 'north' } });
    await waitForStatus(server, done.id, 'completed');
    const failed = await createRun(server, FAILING, { input: {} });
    await waitForStatus(server, failed.id, 'failed');
    const held = await heldRun();
    for (const [path, heading, name] of [
      ['/dashboard', 'Overview', 'overview'],
      ['/dashboard/runs', 'Runs', 'runs'],
      [`/dashboard/runs/${done.id}`, FORM, 'run'],
      ['/dashboard/jobs', 'Jobs', 'jobs-admin'],
      [`/dashboard/jobs/${FORM}`, FORM, 'job'],
      ['/dashboard/workers', 'Workers', 'workers'],
    ] as const) {
      await admin.goto(server.url + path);
      await admin.getByRole('heading', { level: 1, name: heading }).waitFor(LIVE);
      await screenshot(admin, name);
    }
    // The run page: result, logs with levels, duration; the job page renders its description.
    await admin.goto(`${server.url}/dashboard/runs/${done.id}`);
    await admin.getByRole('log', { name: 'Logs' }).getByText('report for north').waitFor(LIVE);
    expect(await admin.locator('.log-warn').count()).toBe(1);
    expect(await admin.locator('.json', { hasText: 'Result' }).textContent()).toContain(
      '"copies": 2',
    );
    await admin.goto(`${server.url}/dashboard/jobs/${FORM}`);
    expect(await admin.locator('.description code').first().textContent()).toBe('region');
    expect(await admin.locator('.description').first().textContent()).not.toContain('`');
    // Workers: this server's instance, alive, running the held run.
    await admin.goto(`${server.url}/dashboard/workers`);
    await admin.getByRole('cell', { name: 'alive' }).first().waitFor(LIVE);
    await admin.getByRole('link', { name: GATE }).waitFor(LIVE);
    gates.get(held.key).release.resolve();
    await waitForStatus(server, held.id, 'completed');
    expect(allErrors()).toEqual([]);
  });

  it('Stop gracefully: the dialog takes a reason, the page shows cancelling then cancelled live', async () => {
    const { id, key } = await heldRun();
    await alice.goto(`${server.url}/dashboard/runs/${id}`);
    await alice.locator('.badge', { hasText: 'running' }).first().waitFor(LIVE);
    await alice.getByRole('button', { name: 'Stop gracefully' }).click();
    const dialog = alice.getByRole('dialog', { name: 'Stop gracefully?' });
    await dialog.getByLabel('Reason').fill('wrong region');
    await dialog.getByRole('button', { name: 'Stop run' }).click();
    await alice.locator('h1 .badge', { hasText: 'cancelling' }).waitFor(LIVE);
    await screenshot(alice, 'run-cancelling');
    expect(await alice.locator('.cancel-record').textContent()).toContain('wrong region');
    // The handler reaches its next checkpoint: the page follows to the end without a reload.
    gates.get(key).release.resolve();
    await alice.locator('h1 .badge', { hasText: 'cancelled' }).waitFor(LIVE);
    expect(await alice.getByRole('button', { name: 'Stop immediately' }).count()).toBe(0);
    expect((await getRun(server, id)).status).toBe('cancelled');
  });

  it('Stop immediately ends the run at once; Retry starts it again and opens the new run', async () => {
    const { id, key } = await heldRun();
    await alice.goto(`${server.url}/dashboard/runs/${id}`);
    await alice.getByRole('button', { name: 'Stop immediately' }).click();
    const dialog = alice.getByRole('dialog', { name: 'Stop immediately?' });
    await dialog.getByLabel('Reason').fill('stuck');
    await dialog.getByRole('button', { name: 'Stop run' }).click();
    await alice.locator('h1 .badge', { hasText: 'cancelled' }).waitFor(LIVE);
    expect(await alice.locator('.cancel-record').textContent()).toContain('immediately');
    await screenshot(alice, 'run-cancelled');

    await alice.getByRole('button', { name: 'Retry' }).click();
    await alice.waitForURL(
      (url) => url.pathname.startsWith('/dashboard/runs/') && !url.pathname.endsWith(id),
      LIVE,
    );
    const retried = alice.url().split('/').pop()!;
    expect((await getRun(server, retried)).retryOf).toBe(id);
    await alice.getByText('Retry of').waitFor(LIVE);
    // The retried run waits at the same gate: open it, and the page follows the run to its end.
    gates.get(key).release.resolve();
    await alice.locator('h1 .badge', { hasText: 'completed' }).waitFor(LIVE);
  });

  it('Trigger: a field error shows beside its field, then the run starts and opens', async () => {
    await alice.goto(`${server.url}/dashboard/jobs/${FORM}`);
    await alice.getByRole('button', { name: 'Trigger' }).click();
    const form = alice.getByRole('form', { name: `Trigger ${FORM}` });
    expect(await form.getByLabel('copies').inputValue()).toBe('2');
    await form.getByLabel('region (required)').fill('no');
    await form.getByRole('button', { name: 'Start run' }).click();
    const fieldError = form.locator('.field-error');
    await fieldError.waitFor(LIVE);
    expect(await fieldError.textContent()).toMatch(/3/);
    expect(await form.getByLabel('region (required)').getAttribute('aria-invalid')).toBe('true');
    await screenshot(alice, 'trigger-error');
    await form.getByLabel('region (required)').fill('south');
    await form.getByLabel('format').selectOption({ label: 'csv' });
    await form.getByRole('button', { name: 'Start run' }).click();
    await alice.waitForURL(/\/dashboard\/runs\/[0-9a-f-]+$/, LIVE);
    const id = alice.url().split('/').pop()!;
    await alice.locator('h1 .badge', { hasText: 'completed' }).waitFor(LIVE);
    expect((await getRun(server, id)).input).toEqual({ region: 'south', copies: 2, format: 'csv' });
    // Deep link: a reload shows the same run.
    await alice.reload();
    await alice.getByText(id).waitFor(LIVE);
    // The refused start is a 400 the browser reports as a failed load: expected here, and only here.
    pages.set(
      alice,
      pages.get(alice)!.filter((e) => !/status of 400/.test(e)),
    );
  });

  it('the Enabled switch (admin) disables and enables the job for everyone', async () => {
    await admin.goto(`${server.url}/dashboard/jobs/${QUICK}`);
    const toggle = admin.getByRole('switch', { name: 'Enabled' });
    expect(await toggle.isChecked()).toBe(true);
    await toggle.click();
    await pollUntil(
      async () =>
        (await server.request('GET', `/api/jobs/${QUICK}`, { token: TEST_TOKENS.viewer })).body.job
          .enabled === false,
      { what: 'disabled', timeoutMs: EVENT_DEADLINE_MS },
    );
    expect(await toggle.isChecked()).toBe(false);
    await toggle.click();
    await pollUntil(
      async () =>
        (await server.request('GET', `/api/jobs/${QUICK}`, { token: TEST_TOKENS.viewer })).body.job
          .enabled === true,
      { what: 'enabled again', timeoutMs: EVENT_DEADLINE_MS },
    );
  });

  it('filters narrow the table, Load more pages through it, new runs appear live', async () => {
    for (let n = 0; n < 27; n++) await createRun(server, QUICK, { input: { n } }, TEST_TOKENS.bob);
    await pollUntil(
      async () => {
        const res = await server.request(
          'GET',
          `/api/runs?job=${QUICK}&createdBy=bob&status=completed&limit=500`,
          { token: TEST_TOKENS.viewer },
        );
        return res.body.runs.length === 27;
      },
      { what: '27 completed runs of bob', timeoutMs: EVENT_DEADLINE_MS },
    );
    await alice.goto(`${server.url}/dashboard/runs`);
    for (const header of ['Status', 'Job', 'Run', 'Started by', 'Created', 'Duration', 'Progress'])
      await alice.getByRole('columnheader', { name: header, exact: true }).waitFor(LIVE);
    await alice.getByLabel('Job').selectOption(QUICK);
    await alice.getByLabel('Started by').fill('bob');
    await alice.getByLabel('Started by').press('Enter');
    await alice.getByLabel('Status').selectOption('completed');
    await alice.waitForURL(/createdBy=bob/, LIVE);
    const rows = alice.locator('table.runs tbody tr');
    await expect.poll(() => rows.count(), LIVE).toBe(25);
    for (const owner of await alice
      .locator('table.runs tbody td:nth-last-child(4)')
      .allTextContents())
      expect(owner).toBe('bob');
    await screenshot(alice, 'runs-filtered');
    await alice.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => rows.count(), LIVE).toBe(27);
    expect(await alice.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    // Filters live in the URL: a reload keeps them.
    await alice.reload();
    await expect.poll(() => rows.count(), LIVE).toBe(25);
    expect(await alice.getByLabel('Started by').inputValue()).toBe('bob');

    // A run created now shows up on top without a reload.
    await alice.goto(`${server.url}/dashboard/runs?job=${QUICK}`);
    await expect.poll(() => rows.count(), LIVE).toBe(25);
    await alice.mouse.move(0, 0);
    const fresh = await createRun(server, QUICK, { input: { n: 99 } }, TEST_TOKENS.bob);
    await alice.locator(`tr[data-run="${fresh.id}"]`).waitFor(LIVE);
    expect(await rows.first().getAttribute('data-run')).toBe(fresh.id);

    // Search runs: the start of an id finds that run; text that is no id gets an inline error.
    await alice.getByLabel('Search runs').fill(fresh.id.slice(0, 18));
    await alice.getByLabel('Search runs').press('Enter');
    await expect.poll(() => rows.count(), LIVE).toBe(1);
    expect(await rows.first().getAttribute('data-run')).toBe(fresh.id);
    await alice.getByLabel('Created').selectOption('1h');
    await expect.poll(() => rows.count(), LIVE).toBe(1);
  });

  it('a viewer sees no Stop, Retry, Trigger or switch; bob sees alice’s Stop disabled with the reason', async () => {
    const { id, key } = await heldRun(TEST_TOKENS.alice);
    const viewer = await pageAs(TEST_TOKENS.viewer);
    await viewer.goto(`${server.url}/dashboard/runs/${id}`);
    await viewer.locator('h1 .badge', { hasText: 'running' }).waitFor(LIVE);
    expect(await viewer.getByRole('button', { name: /Stop|Retry/ }).count()).toBe(0);
    await viewer.goto(`${server.url}/dashboard/jobs/${FORM}`);
    await viewer.getByRole('heading', { level: 1, name: FORM }).waitFor(LIVE);
    expect(await viewer.getByRole('button', { name: 'Trigger' }).count()).toBe(0);
    expect(await viewer.getByRole('switch').count()).toBe(0);

    const bob = await pageAs(TEST_TOKENS.bob);
    await bob.goto(`${server.url}/dashboard/runs/${id}`);
    const stop = bob.getByRole('button', { name: 'Stop gracefully' });
    await stop.waitFor(LIVE);
    expect(await stop.isDisabled()).toBe(true);
    expect(await bob.getByRole('button', { name: 'Stop immediately' }).isDisabled()).toBe(true);
    expect(await bob.locator('#why-not').textContent()).toContain('Only alice');
    await screenshot(bob, 'run-not-yours');
    gates.get(key).release.resolve();
    await bob.locator('h1 .badge', { hasText: 'completed' }).waitFor(LIVE);
  });

  it('at 390 px no page scrolls sideways; the dark theme follows the system and the toggle', async () => {
    const { id } = await createRun(server, FORM, { input: { region: 'east' } });
    const phone = await pageAs(TEST_TOKENS.admin, { width: 390, colorScheme: 'dark' });
    for (const path of [
      '/dashboard',
      '/dashboard/runs',
      `/dashboard/runs/${id}`,
      '/dashboard/jobs',
      `/dashboard/jobs/${FORM}`,
      '/dashboard/workers',
    ]) {
      await phone.goto(server.url + path);
      await phone.getByRole('heading', { level: 1 }).waitFor(LIVE);
      await phone.locator('main table, main .facts, main .cards').first().waitFor(LIVE);
      expect(await horizontalOverflow(phone), path).toBeLessThanOrEqual(0);
    }
    await screenshot(phone, 'run-390-dark');
    const background = () =>
      phone.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    await expect.poll(background, LIVE).toBe('rgb(17, 21, 28)');
    await phone.getByLabel('Theme').selectOption('light');
    await expect.poll(background, LIVE).toBe('rgb(246, 247, 249)');
    await phone.reload();
    await phone.getByRole('heading', { level: 1 }).waitFor(LIVE);
    await expect.poll(background, LIVE).toBe('rgb(246, 247, 249)');
    await phone.getByLabel('Theme').selectOption('system');
    await expect.poll(background, LIVE).toBe('rgb(17, 21, 28)');
  });

  it('Sign out ends the session: the sign-in page shows and the old cookie gets 401', async () => {
    const page = await pageAs(TEST_TOKENS.alice);
    await page.goto(`${server.url}/dashboard`);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor(LIVE);
    const [cookie] = await page.context().cookies();
    const before = await server.request('GET', '/api/runs', {
      headers: { cookie: `${cookie!.name}=${cookie!.value}` },
    });
    expect(before.status).toBe(200);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor(LIVE);
    const after = await server.request('GET', '/api/runs', {
      headers: { cookie: `${cookie!.name}=${cookie!.value}` },
    });
    expect(after.status).toBe(401);
    // The sign-in page itself answers 401 by design; nothing else may log an error.
    pages.set(
      page,
      pages.get(page)!.filter((e) => !/status of 401/.test(e)),
    );
  });

  it('no page logged a console error', () => {
    expect(allErrors()).toEqual([]);
  });
});
