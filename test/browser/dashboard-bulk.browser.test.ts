/**
 * The dashboard in headless Chromium, continued: the README's pictures (a realistic overview and
 * run page), bulk Stop and Retry on the runs page as an operator, an admin and a viewer, one
 * journey with the keyboard alone, and deep links that survive a reload.
 * JOBDECK_UPDATE_SCREENSHOTS=1 writes the README's pictures to docs/images/.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Page } from 'playwright-core';
import { z } from 'zod';
import { defineJob } from '../../src/jobs/define.js';
import {
  chromiumAvailable,
  docsScreenshot,
  horizontalOverflow,
  screenshot,
} from '../helpers/browser.js';
import { DashboardFixture, FAILING, QUICK } from '../helpers/dashboard-fixture.js';
import { EVENT_DEADLINE_MS } from '../helpers/poll.js';
import { TEST_TOKENS, type TestServer } from '../helpers/server.js';
import { createRun, getRun, unlessAborted, waitForStatus } from '../e2e/support.js';

// Waits run up to EVENT_DEADLINE_MS: a test on a loaded machine gets longer than that, never red.
vi.setConfig({ testTimeout: 3 * EVENT_DEADLINE_MS, hookTimeout: 2 * EVENT_DEADLINE_MS });

const available = chromiumAvailable();
const LIVE = { timeout: EVENT_DEADLINE_MS };
const fixture = new DashboardFixture();
const { gates } = fixture;
let server: TestServer;

// Jobs with the names and output of real ones, for the README's pictures.
const SYNC = 'reports.region-sync';
const INVOICES = 'billing.invoices';
const DIGEST = 'mail.digest';
/** The regions a sync copies, with the orders each one has. */
const ORDERS: Record<string, number> = {
  'eu-west': 4217,
  'eu-north': 1893,
  'us-east': 6032,
  'us-west': 5120,
  'ap-south': 2764,
  'ap-east': 3391,
  'sa-east': 1158,
};
const REGIONS = Object.keys(ORDERS);

const syncJob = defineJob({
  name: SYNC,
  category: 'reports',
  description: 'Copies the day’s orders of each region into the warehouse, one region at a time.',
  maxAttempts: 1,
  input: z.object({ key: z.string(), holdAt: z.string() }),
  async run(ctx, input) {
    let finished = 0;
    ctx.log.info('sync started', { regions: REGIONS.length });
    const summary = await ctx.forEach(
      REGIONS,
      async (region, { signal }) => {
        ctx.progress({ processed: finished, total: REGIONS.length, message: `copying ${region}` });
        try {
          ctx.log.debug(`reading the orders of ${region}`);
          if (region === input.holdAt) {
            // Held here, so the picture shows a run in the middle of its work.
            const gate = gates.get(input.key);
            gate.entered.resolve();
            await unlessAborted(gate.release.promise, signal);
          }
          if (region === 'us-west') {
            ctx.log.error('us-west: the warehouse answered 503 three times');
            throw new Error('the warehouse answered 503 Service Unavailable');
          }
          if (region === 'us-east') ctx.log.warn('us-east: 12 orders without a currency skipped');
          ctx.log.info(`${region}: ${ORDERS[region]} orders copied`);
        } finally {
          finished++;
        }
      },
      { key: (region) => region },
    );
    ctx.progress({ processed: finished, total: REGIONS.length, message: 'done' });
    return { copied: summary.succeeded, failed: summary.failed };
  },
});

const invoicesJob = defineJob({
  name: INVOICES,
  category: 'billing',
  description: 'Issues the invoices of the accounts due today.',
  maxAttempts: 1,
  input: z.object({ accounts: z.number().int() }),
  run: (ctx, input) => {
    ctx.log.info(`${input.accounts} invoices issued`);
    ctx.progress({ processed: input.accounts, total: input.accounts });
    return { issued: input.accounts };
  },
});

const digestJob = defineJob({
  name: DIGEST,
  category: 'mail',
  description: 'Sends the weekly digest.',
  maxAttempts: 1,
  input: z.object({}),
  run: () => {
    throw new Error('the SMTP relay refused the connection');
  },
});

/** The focused element: its role and accessible name, and whether its focus can be seen. */
async function focused(page: Page): Promise<{ role: string; name: string; visible: boolean }> {
  // A string: this runs in the page, and the test's TypeScript has no DOM types.
  const style = await page.evaluate<{
    tag: string;
    outline: string;
    width: string;
    shadow: string;
  }>(
    `(() => {
      const el = document.activeElement;
      const s = getComputedStyle(el);
      return { tag: el.tagName, outline: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow };
    })()`,
  );
  if (style.tag === 'BODY') return { role: 'none', name: '', visible: true };
  const line = (await page.locator(':focus').ariaSnapshot({ timeout: 5000 })).split('\n')[0]!;
  const [, role = '', name = ''] = /^- ([\w-]+)(?: "((?:[^"\\]|\\.)*)")?/.exec(line) ?? [];
  const outlined = style.outline !== 'none' && parseFloat(style.width) > 0;
  return { role, name, visible: outlined || style.shadow !== 'none' };
}

/**
 * Presses Tab until the focus is on `role` named `name`; every control it passes must show its
 * focus and have an accessible name. The focus leaves the page (body) between the last control
 * and the first: such steps are only counted.
 */
async function tabTo(page: Page, role: string, name: string | RegExp): Promise<void> {
  const passed: string[] = [];
  for (let n = 0; n < 200; n++) {
    await page.keyboard.press('Tab');
    const focus = await focused(page);
    if (focus.role === 'none') continue;
    passed.push(`${focus.role} "${focus.name}"`);
    expect(focus.visible, `focus visible on ${focus.role} "${focus.name}"`).toBe(true);
    expect(focus.name, `accessible name of a ${focus.role}`).not.toBe('');
    if (
      focus.role === role &&
      (typeof name === 'string' ? focus.name === name : name.test(focus.name))
    )
      return;
  }
  throw new Error(`Tab never reached ${role} "${String(name)}"; passed: ${passed.join(', ')}`);
}

/** The ids of the rows of the runs table, top to bottom. */
const rowIds = (page: Page) =>
  page.evaluate<string[]>(
    `[...document.querySelectorAll('table.runs tbody tr')].map((row) => row.dataset.run)`,
  );

describe.skipIf(!available)('dashboard in a browser: bulk actions, keyboard, deep links', () => {
  beforeAll(async () => {
    await fixture.start([syncJob, invoicesJob, digestJob]);
    server = fixture.server;
  });

  afterAll(() => fixture.close());

  it('pictures for the README: the overview and a run with progress, logs and items', async () => {
    for (const accounts of [412, 388, 405])
      await waitForStatus(
        server,
        (await createRun(server, INVOICES, { input: { accounts } })).id,
        'completed',
      );
    await waitForStatus(server, (await createRun(server, DIGEST, { input: {} })).id, 'failed');
    const later = new Date(Date.now() + 3600_000).toISOString();
    await createRun(server, INVOICES, { input: { accounts: 40 }, runAt: later });
    const second = { key: gates.key('sync'), id: '' };
    second.id = (
      await createRun(server, SYNC, { input: { key: second.key, holdAt: 'eu-north' } })
    ).id;
    const main = { key: gates.key('sync'), id: '' };
    main.id = (await createRun(server, SYNC, { input: { key: main.key, holdAt: 'ap-east' } })).id;
    await Promise.all([gates.get(main.key).entered.promise, gates.get(second.key).entered.promise]);

    const page = await fixture.pageAs(TEST_TOKENS.admin, { width: 1280, height: 800 });
    await page.goto(`${server.url}/dashboard`);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor(LIVE);
    await page
      .locator(`tr[data-run="${main.id}"] .progress-text`, { hasText: '5/7' })
      .waitFor(LIVE);
    await page
      .locator(`tr[data-run="${second.id}"] .progress-text`, { hasText: '1/7' })
      .waitFor(LIVE);
    await page.locator('.card', { hasText: 'worker alive' }).getByText('1').waitFor(LIVE);
    await page
      .locator('.card', { hasText: 'failed' })
      .getByText('1', { exact: true })
      .waitFor(LIVE);
    await docsScreenshot(page, 'dashboard-overview');

    await page.goto(`${server.url}/dashboard/runs/${main.id}`);
    await page
      .getByRole('log', { name: 'Logs' })
      .getByText('ap-south: 2764 orders copied')
      .waitFor(LIVE);
    await page.getByRole('progressbar', { name: 'Run progress' }).waitFor(LIVE);
    await page.locator('.progress-message', { hasText: 'copying ap-east' }).waitFor(LIVE);
    const items = page.locator('table', { has: page.getByRole('columnheader', { name: 'Item' }) });
    await items.locator('tr', { hasText: 'us-west' }).getByText('failed').waitFor(LIVE);
    await items.locator('tr', { hasText: 'ap-east' }).getByText('running').waitFor(LIVE);
    await docsScreenshot(page, 'dashboard-run');

    gates.get(main.key).release.resolve();
    gates.get(second.key).release.resolve();
    await waitForStatus(server, main.id, 'partial');
    await waitForStatus(server, second.id, 'partial');
  });

  describe('bulk Stop and Retry on the runs page', () => {
    type Held = { id: string; key: string };
    let a1: Held, a2: Held, b1: Held;
    let aDone: { id: string }, aFailed: { id: string }, bFailed: { id: string };
    let alice: Page;
    const bar = () => alice.getByRole('group', { name: 'Selected runs' });
    const select = (id: string) => alice.getByRole('checkbox', { name: `Select run ${id}` });
    const outcome = (id: string) => alice.locator(`.bulk-results li[data-run="${id}"]`);

    beforeAll(async () => {
      a1 = await fixture.heldRun(TEST_TOKENS.alice);
      a2 = await fixture.heldRun(TEST_TOKENS.alice);
      b1 = await fixture.heldRun(TEST_TOKENS.bob);
      aDone = await createRun(server, QUICK, { input: { n: 1 } }, TEST_TOKENS.alice);
      aFailed = await createRun(server, FAILING, { input: {} }, TEST_TOKENS.alice);
      bFailed = await createRun(server, FAILING, { input: {} }, TEST_TOKENS.bob);
      await waitForStatus(server, aDone.id, 'completed');
      await waitForStatus(server, aFailed.id, 'failed');
      await waitForStatus(server, bFailed.id, 'failed');
      alice = await fixture.pageAs(TEST_TOKENS.alice);
      await alice.goto(`${server.url}/dashboard/runs`);
      await alice.locator(`tr[data-run="${a1.id}"]`).waitFor(LIVE);
    });

    it('selecting shows the bar; a new run waits behind a button and no row moves', async () => {
      expect(await bar().textContent()).toContain('Select runs to stop or retry them.');
      for (const { id } of [a1, a2, b1, aDone]) await select(id).check();
      await bar().getByText('4 selected').waitFor(LIVE);
      // The pointer is on the table (it just clicked there).
      const table = alice.locator('table.runs');
      const [before, top] = [await rowIds(alice), (await table.boundingBox())!.y];
      await createRun(server, QUICK, { input: { n: 2 } }, TEST_TOKENS.bob);
      await alice.getByRole('button', { name: 'Show 1 new run' }).waitFor(LIVE);
      expect(await rowIds(alice)).toEqual(before);
      expect((await table.boundingBox())!.y).toBe(top);
    });

    it('Stop: the run page’s dialog, then each run’s outcome; others’ and finished runs refused', async () => {
      await bar().getByRole('button', { name: 'Stop', exact: true }).click();
      await alice.getByRole('dialog', { name: 'Stop 4 runs gracefully?' }).waitFor(LIVE);
      await alice.getByRole('radio', { name: 'Immediately' }).check();
      const dialog = alice.getByRole('dialog', { name: 'Stop 4 runs immediately?' });
      await dialog.getByLabel('Reason').fill('maintenance window');
      await screenshot(alice, 'runs-bulk-dialog');
      await dialog.getByRole('button', { name: 'Stop runs' }).click();
      await alice.getByRole('heading', { name: 'Stop: 2 done, 2 refused' }).waitFor(LIVE);
      expect(await outcome(a1.id).textContent()).toContain('stopped immediately');
      expect(await outcome(a2.id).textContent()).toContain('stopped immediately');
      // The API's words, as Retry shows them.
      expect(await outcome(b1.id).textContent()).toContain(
        `refused (403): Only bob or an admin may cancel run ${b1.id}.`,
      );
      expect(await outcome(aDone.id).textContent()).toContain(
        `refused (409): Run ${aDone.id} has already ended: completed.`,
      );
      // The outcome takes the focus; the selection is done with.
      await expect
        .poll(() => alice.evaluate<string>('document.activeElement.id'), LIVE)
        .toBe('bulk-results-title');
      expect(await bar().textContent()).toContain('Select runs to stop or retry them.');
      await screenshot(alice, 'runs-bulk-stopped');
      for (const { id } of [a1, a2]) {
        const run = await getRun(server, id);
        expect(run.status).toBe('cancelled');
        expect(run.cancel).toMatchObject({
          mode: 'force',
          reason: 'maintenance window',
          requestedBy: 'alice',
        });
      }
      expect((await getRun(server, b1.id)).status).toBe('running');
      await alice.locator(`tr[data-run="${a1.id}"] .badge`, { hasText: 'cancelled' }).waitFor(LIVE);
    });

    it('Retry: failed and cancelled runs start again; bob’s is refused, a completed one left', async () => {
      for (const { id } of [aFailed, bFailed, a1, aDone]) await select(id).check();
      await bar().getByRole('button', { name: 'Retry' }).click();
      await alice
        .getByRole('heading', { name: 'Retry: 2 done, 1 refused, 1 not tried' })
        .waitFor(LIVE);
      expect(await outcome(aFailed.id).textContent()).toContain('retried as');
      const next = await outcome(aFailed.id).getByRole('link').nth(1).getAttribute('aria-label');
      expect((await getRun(server, next!.replace('Run ', ''))).retryOf).toBe(aFailed.id);
      expect(await outcome(a1.id).textContent()).toContain('retried as');
      expect(await outcome(bFailed.id).textContent()).toContain(
        `refused (403): Only bob or an admin may retry run ${bFailed.id}.`,
      );
      expect(await outcome(aDone.id).textContent()).toContain('not retried: it is completed');
      // The retry of a1 waits at a1's gate.
      gates.get(a1.key).release.resolve();
      fixture.forgive(alice, /status of 403/);
      await alice.getByRole('button', { name: 'Dismiss' }).click();
      expect(await alice.locator('.bulk-results').count()).toBe(0);
    });

    it('select all takes every loaded row; one fewer leaves it half-checked; Clear empties', async () => {
      const all = alice.getByRole('checkbox', { name: 'Select all loaded runs' });
      await all.check();
      const rows = await alice.locator('table.runs tbody tr').count();
      await bar().getByText(`${rows} selected`).waitFor(LIVE);
      await select(aDone.id).uncheck();
      await bar()
        .getByText(`${rows - 1} selected`)
        .waitFor(LIVE);
      expect(
        await alice.evaluate<boolean>(`document.querySelector('th.select input').indeterminate`),
      ).toBe(true);
      await bar().getByRole('button', { name: 'Clear selection' }).click();
      expect(await alice.getByRole('checkbox', { checked: true }).count()).toBe(0);
    });

    it('an admin stops anyone’s run; a viewer sees no checkboxes and no bar', async () => {
      const admin = await fixture.pageAs(TEST_TOKENS.admin);
      await admin.goto(`${server.url}/dashboard/runs`);
      await admin.getByRole('checkbox', { name: `Select run ${b1.id}` }).check();
      await admin.getByRole('button', { name: 'Stop', exact: true }).click();
      await admin
        .getByRole('dialog', { name: 'Stop gracefully?' })
        .getByRole('button', { name: 'Stop run' })
        .click();
      await admin.getByRole('heading', { name: 'Stop: 1 done' }).waitFor(LIVE);
      expect(await admin.locator(`.bulk-results li[data-run="${b1.id}"]`).textContent()).toContain(
        'stopping at its next checkpoint',
      );
      gates.get(b1.key).release.resolve();
      await admin.locator(`tr[data-run="${b1.id}"] .badge`, { hasText: 'cancelled' }).waitFor(LIVE);

      const viewer = await fixture.pageAs(TEST_TOKENS.viewer);
      await viewer.goto(`${server.url}/dashboard/runs`);
      await viewer.locator(`tr[data-run="${b1.id}"]`).waitFor(LIVE);
      expect(await viewer.getByRole('checkbox').count()).toBe(0);
      expect(await viewer.getByRole('group', { name: 'Selected runs' }).count()).toBe(0);
      expect(await viewer.getByRole('button', { name: /Stop|Retry/ }).count()).toBe(0);
    });
  });

  it('at 390 px the selection bar and the results fit without sideways scrolling', async () => {
    const { id } = await createRun(server, QUICK, { input: { n: 3 } }, TEST_TOKENS.alice);
    await waitForStatus(server, id, 'completed');
    const phone = await fixture.pageAs(TEST_TOKENS.alice, { width: 390 });
    await phone.goto(`${server.url}/dashboard/runs`);
    await phone.getByRole('checkbox', { name: `Select run ${id}` }).check();
    await phone.getByText('1 selected').waitFor(LIVE);
    expect(await horizontalOverflow(phone)).toBeLessThanOrEqual(0);
    await phone.getByRole('button', { name: 'Retry' }).click();
    await phone.getByRole('heading', { name: 'Retry: 1 not tried' }).waitFor(LIVE);
    expect(await horizontalOverflow(phone)).toBeLessThanOrEqual(0);
    await screenshot(phone, 'runs-bulk-390');
  });

  it('keyboard only: sign in, runs, a run, the Stop dialog; focus always visible, controls named', async () => {
    const { id, key } = await fixture.heldRun(TEST_TOKENS.alice);
    const context = await fixture.browser.newContext({ viewport: { width: 1280, height: 860 } });
    fixture.contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${server.url}/dashboard/runs`);
    await tabTo(page, 'textbox', 'API token');
    await page.keyboard.type(TEST_TOKENS.alice);
    await tabTo(page, 'button', 'Sign in');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Runs' }).waitFor(LIVE);
    await page.locator(`tr[data-run="${id}"]`).waitFor(LIVE);

    await tabTo(page, 'link', `Run ${id}`);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/dashboard/runs/${id}`, LIVE);
    await page.locator('h1 .badge', { hasText: 'running' }).waitFor(LIVE);
    await tabTo(page, 'button', 'Stop gracefully');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Stop gracefully?' });
    await dialog.waitFor(LIVE);
    // The dialog takes the focus; arrows pick the mode, Tab walks its named controls.
    const first = await focused(page);
    expect(first).toEqual({ role: 'radio', name: 'Gracefully', visible: true });
    await page.keyboard.press('ArrowRight');
    await page.getByRole('dialog', { name: 'Stop immediately?' }).waitFor(LIVE);
    await page.keyboard.press('ArrowLeft');
    await dialog.waitFor(LIVE);
    await tabTo(page, 'textbox', 'Reason');
    await tabTo(page, 'button', 'Keep running');
    await tabTo(page, 'button', 'Stop run');
    // Escape closes it and gives the focus back to the button that opened it.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached', ...LIVE });
    expect(await focused(page)).toEqual({ role: 'button', name: 'Stop gracefully', visible: true });
    expect((await getRun(server, id)).status).toBe('running');

    await page.keyboard.press('Enter');
    await dialog.waitFor(LIVE);
    await tabTo(page, 'textbox', 'Reason');
    await page.keyboard.type('stopped from the keyboard');
    await tabTo(page, 'button', 'Stop run');
    await page.keyboard.press('Enter');
    await page.locator('h1 .badge', { hasText: 'cancelling' }).waitFor(LIVE);
    expect(await page.locator('.cancel-record').textContent()).toContain(
      'stopped from the keyboard',
    );
    gates.get(key).release.resolve();
    await page.locator('h1 .badge', { hasText: 'cancelled' }).waitFor(LIVE);
  });

  it('deep links: a run and a filtered list open cold and reload to the same page', async () => {
    const viewer = await fixture.pageAs(TEST_TOKENS.viewer);
    const { id } = await createRun(server, INVOICES, { input: { accounts: 7 } }, TEST_TOKENS.bob);
    await waitForStatus(server, id, 'completed');
    await viewer.goto(`${server.url}/dashboard/runs/${id}`);
    const runShown = async () => {
      await viewer.getByRole('heading', { level: 1, name: INVOICES }).waitFor(LIVE);
      await viewer.locator('.facts code', { hasText: id }).waitFor(LIVE);
      await viewer.getByRole('log', { name: 'Logs' }).getByText('7 invoices issued').waitFor(LIVE);
    };
    await runShown();
    await viewer.reload();
    await runShown();
    expect(new URL(viewer.url()).pathname).toBe(`/dashboard/runs/${id}`);

    const filtered = `/dashboard/runs?status=completed&job=${INVOICES}&createdBy=alice&range=24h`;
    await viewer.goto(server.url + filtered);
    const listShown = async () => {
      await viewer.getByRole('heading', { level: 1, name: 'Runs' }).waitFor(LIVE);
      await expect.poll(() => viewer.locator('table.runs tbody tr').count(), LIVE).toBe(3);
      expect(await viewer.getByLabel('Status').inputValue()).toBe('completed');
      // The job list loads after the page: the choice shows once its option is there.
      await expect.poll(() => viewer.getByLabel('Job').inputValue(), LIVE).toBe(INVOICES);
      expect(await viewer.getByLabel('Started by').inputValue()).toBe('alice');
      expect(await viewer.getByLabel('Created').inputValue()).toBe('24h');
      return rowIds(viewer);
    };
    const first = await listShown();
    await viewer.reload();
    expect(await listShown()).toEqual(first);
    expect(viewer.url()).toBe(server.url + filtered);
  });

  it('no page logged a console error', () => {
    expect(fixture.allErrors()).toEqual([]);
  });
});
