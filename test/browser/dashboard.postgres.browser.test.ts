/**
 * The dashboard in headless Chromium against three real processes on one PostgreSQL: A
 * (`jobdeck serve --no-worker`) serves the API and the dashboard, B and C (`jobdeck worker`)
 * execute the runs. The pages on A follow what B and C do through the store's event feed: a run
 * triggered on A's job page runs on B or C while its page shows it running, its progress moving and
 * its logs arriving; Stop gracefully (with a reason) shows `cancelling` then `cancelled` and the
 * worker's `cancel delivered` log line, all without a reload; a run that logs hundreds of lines a
 * second keeps its page live with the newest 1,000 lines, and Stop immediately ends it; the
 * workers page lists A, B and C alive; the overview shows the active runs. No page logs a console
 * error. Screenshots: test-artifacts/screenshots/pg-*.png. Every child process is ended and the
 * schema dropped afterwards, also after a failure.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { LONG_JOB } from '../fixtures/long-jobs.js';
import {
  chromiumAvailable,
  consoleErrors,
  launchBrowser,
  screenshot,
  signedIn,
} from '../helpers/browser.js';
import {
  Api,
  InstanceSet,
  dropSchema,
  freePort,
  schemaUrl,
  serveReady,
  workerReady,
  type Instance,
} from '../helpers/pg-instances.js';
import { EVENT_DEADLINE_MS, pollUntil } from '../helpers/poll.js';
import { PG_URL, freshSchema, postgresReachable } from '../helpers/postgres.js';
import { TEST_TOKENS, TEST_TOKENS_ENV } from '../helpers/server.js';

const reachable = await postgresReachable();
const available = chromiumAvailable();

const JOBS_MODULE = 'test/fixtures/long-jobs.ts';
const LIVE = { timeout: EVENT_DEADLINE_MS };
/** How long a child may take to stop on SIGTERM before it is SIGKILLed. */
const STOP_DEADLINE_MS = 15_000;
/** Each test waits for several live changes, each with its own deadline. */
const TEST_TIMEOUT_MS = 240_000;

describe.skipIf(!reachable || !available)('dashboard on A, runs on B and C (PostgreSQL)', () => {
  const instances = new InstanceSet();
  const schema = freshSchema();
  const contexts: BrowserContext[] = [];
  let browser: Browser | undefined;
  let a: Instance;
  let workers: { name: string; instance: Instance; id: string }[];
  let url: string;
  let api: Api;
  let page: Page;

  /** A signed-in page of `token` whose console errors are collected. */
  async function pageAs(token: string): Promise<Page> {
    const context = await signedIn(browser!, { url }, token);
    contexts.push(context);
    const opened = await context.newPage();
    pageErrors.push(consoleErrors(opened));
    return opened;
  }
  const pageErrors: string[][] = [];

  async function run(id: string): Promise<{ status: string; workerId: string | null }> {
    const answer = await api.get(`/api/runs/${id}`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return answer.body.run;
  }

  async function startRun(input: { steps: number; stepMs: number }): Promise<string> {
    const created = await api.post(`/api/jobs/${LONG_JOB}/runs`, { input });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    return created.body.run.id;
  }

  function waitForStatus(id: string, status: string): Promise<unknown> {
    return pollUntil(async () => (await run(id)).status === status, {
      timeoutMs: EVENT_DEADLINE_MS,
      intervalMs: 100,
      what: `run ${id} to be ${status}`,
    });
  }

  /** The progress text (`processed/total`) of the run page, as the processed count. */
  async function processed(): Promise<number> {
    const text = await page.locator('.run-page .progress-text').first().textContent();
    return Number(/^(\d+)\//.exec(text ?? '')?.[1] ?? -1);
  }

  /** Records every word the run page's status badge shows, from now on (read with `badgeHistory`). */
  function recordBadges(): Promise<void> {
    // A string: this runs in the page, and the test's TypeScript has no DOM types.
    return page.evaluate<void>(`(() => {
      const seen = (window.__badges = []);
      const record = () => {
        const word = document.querySelector('h1 .badge')?.textContent;
        if (word && seen[seen.length - 1] !== word) seen.push(word);
      };
      record();
      new MutationObserver(record).observe(document.body, {
        subtree: true, childList: true, characterData: true,
      });
    })()`);
  }
  const badgeHistory = () => page.evaluate<string[]>('window.__badges');

  beforeAll(async () => {
    const db = schemaUrl(PG_URL, schema);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    api = new Api(url, TEST_TOKENS.alice);
    a = instances.cli('A', ['serve', '--no-worker', '--db', db, '--jobs', JOBS_MODULE], {
      JOBDECK_TOKENS: TEST_TOKENS_ENV,
      JOBDECK_PORT: String(port),
    });
    const started = ['B', 'C'].map((name) => ({
      name,
      instance: instances.cli(name, ['worker', '--db', db, '--jobs', JOBS_MODULE], {}),
    }));
    const [, ids] = await Promise.all([
      serveReady(a),
      Promise.all(started.map((w) => workerReady(w.instance))),
      launchBrowser().then((launched) => (browser = launched)),
    ]);
    workers = started.map((w, i) => ({ ...w, id: ids[i]! }));
    page = await pageAs(TEST_TOKENS.alice);
  }, 120_000);

  beforeEach((context) => {
    // What the processes printed, to tell a product failure from a slow machine.
    context.onTestFailed(() => {
      for (const instance of instances.all)
        console.error(
          `${instance.name} (exit ${JSON.stringify(instance.exit)}): ${instance.lines.slice(-30).join('\n')}\n${instance.stderr.slice(-3000)}`,
        );
    });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close().catch(() => {});
    // SIGTERM, and SIGKILL whatever has not stopped by the deadline.
    await Promise.all(instances.all.map((i) => i.kill('SIGTERM', STOP_DEADLINE_MS)));
    await instances.killAll();
    await dropSchema(PG_URL, schema);
  }, 60_000);

  it(
    'a run triggered on A’s job page runs on B or C; its page on A shows it running, progress and logs moving',
    async () => {
      await page.goto(`${url}/dashboard/jobs/${LONG_JOB}`);
      await page.getByRole('button', { name: 'Trigger' }).click();
      const form = page.getByRole('form', { name: `Trigger ${LONG_JOB}` });
      expect(await form.getByLabel('steps', { exact: true }).inputValue()).toBe('600');
      await form.getByLabel('stepMs', { exact: true }).fill('300');
      await form.getByRole('button', { name: 'Start run' }).click();
      await page.waitForURL(/\/dashboard\/runs\/[0-9a-f-]+$/, LIVE);
      const id = page.url().split('/').pop()!;

      await page.locator('h1 .badge', { hasText: 'running' }).waitFor(LIVE);
      const { workerId } = await run(id);
      const runner = workers.find((w) => w.id === workerId);
      expect(runner, `worker ${workerId} is B or C`).toBeDefined();
      // The page names the worker so that B and C, started at the same moment, can be told apart.
      await page.locator('.facts dd', { hasText: runner!.id }).waitFor(LIVE);

      // Progress and logs move with no reload: only the event feed can bring them.
      const log = page.getByRole('log', { name: 'Logs' }).locator('.log');
      await expect.poll(processed, LIVE).toBeGreaterThan(0);
      const [progressBefore, linesBefore] = [await processed(), await log.count()];
      await expect.poll(processed, LIVE).toBeGreaterThan(progressBefore);
      await expect.poll(() => log.count(), LIVE).toBeGreaterThan(linesBefore);
      await page
        .getByRole('log', { name: 'Logs' })
        .getByText(`step ${progressBefore + 1} done`)
        .waitFor(LIVE);
      await screenshot(page, 'pg-run-running');

      // Stop gracefully, with a reason: cancelling, then cancelled when the step ends.
      await recordBadges();
      await page.getByRole('button', { name: 'Stop gracefully' }).click();
      const dialog = page.getByRole('dialog', { name: 'Stop gracefully?' });
      await dialog.getByLabel('Reason').fill('maintenance window');
      await dialog.getByRole('button', { name: 'Stop run' }).click();
      await page.locator('.cancel-record', { hasText: 'maintenance window' }).waitFor(LIVE);
      await page.getByRole('log', { name: 'Logs' }).getByText('cancel delivered').waitFor(LIVE);
      await page.locator('h1 .badge', { hasText: 'cancelled' }).waitFor(LIVE);
      expect(await badgeHistory()).toEqual(['running', 'cancelling', 'cancelled']);
      expect(await page.getByRole('button', { name: /Stop/ }).count()).toBe(0);
      await screenshot(page, 'pg-run-cancelled-gracefully');
      expect((await run(id)).status).toBe('cancelled');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a run that logs hundreds of lines a second: its page keeps the newest 1,000, live; Stop immediately ends it',
    async () => {
      const id = await startRun({ steps: 1_000_000, stepMs: 2 });
      const logReads: string[] = [];
      const onRequest = (request: { url(): string }) => {
        if (request.url().includes(`/api/runs/${id}/logs`)) logReads.push(request.url());
      };
      page.on('request', onRequest);
      try {
        await page.goto(`${url}/dashboard/runs/${id}`);
        await page.locator('h1 .badge', { hasText: 'running' }).waitFor(LIVE);
        const box = page.getByRole('log', { name: 'Logs' });
        await box.getByText('Older lines are not shown.').waitFor(LIVE);
        const lastLine = () => box.locator('.log').last().locator('.message').textContent();
        const seenLast = await lastLine();
        await expect.poll(lastLine, LIVE).not.toBe(seenLast);
        expect(await box.locator('.log').count()).toBe(1000);
        await screenshot(page, 'pg-run-chatty');

        await recordBadges();
        await page.getByRole('button', { name: 'Stop immediately' }).click();
        const dialog = page.getByRole('dialog', { name: 'Stop immediately?' });
        await dialog.getByLabel('Reason').fill('too chatty');
        await dialog.getByRole('button', { name: 'Stop run' }).click();
        await page.locator('h1 .badge', { hasText: 'cancelled' }).waitFor(LIVE);
        expect(await page.locator('.cancel-record').textContent()).toContain('immediately');
        const history = await badgeHistory();
        expect([history[0], history.at(-1)]).toEqual(['running', 'cancelled']);
        await screenshot(page, 'pg-run-cancelled-immediately');
        expect((await run(id)).status).toBe('cancelled');
        // Lines arrive with the event feed; the API is read again only to fill a gap, never per line.
        expect(logReads.length).toBeLessThan(100);
      } finally {
        page.off('request', onRequest);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the overview on A shows the runs active on B and C; the workers page lists A (api), B and C (worker) alive',
    async () => {
      const ids = [
        await startRun({ steps: 600, stepMs: 300 }),
        await startRun({ steps: 600, stepMs: 300 }),
      ];
      for (const id of ids) await waitForStatus(id, 'running');

      await page.goto(`${url}/dashboard`);
      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor(LIVE);
      for (const id of ids) await page.locator(`tr[data-run="${id}"]`).waitFor(LIVE);
      const alive = page.getByRole('link', { name: /workers alive/ });
      await expect.poll(() => alive.textContent(), LIVE).toMatch(/^3\s*workers alive/);
      // The active runs' progress moves in place.
      const rowProgress = async () =>
        Number(
          /^(\d+)\//.exec(
            (await page.locator(`tr[data-run="${ids[0]}"] .progress-text`).textContent()) ?? '',
          )?.[1] ?? -1,
        );
      const before = await rowProgress();
      await expect.poll(rowProgress, LIVE).toBeGreaterThan(before);
      await screenshot(page, 'pg-overview');

      await page.goto(`${url}/dashboard/workers`);
      await page.getByRole('heading', { level: 1, name: 'Workers' }).waitFor(LIVE);
      const rows = page.locator('main table tbody tr');
      await expect.poll(() => rows.count(), LIVE).toBe(3);
      for (const [instance, role] of [
        [a, 'api'],
        [workers[0]!.instance, 'worker'],
        [workers[1]!.instance, 'worker'],
      ] as const) {
        const row = rows.filter({ hasText: `:${instance.pid} ` });
        await expect.poll(() => row.count(), LIVE).toBe(1);
        expect(await row.locator('td').nth(1).textContent()).toBe('alive');
        expect(await row.locator('td').nth(2).textContent()).toBe(role);
      }
      // Each active run shows under the worker that executes it.
      for (const id of ids) {
        const { workerId } = await run(id);
        const row = rows.filter({ hasText: workerId! });
        await row.locator(`a[href="/dashboard/runs/${id}"]`).waitFor(LIVE);
      }
      await screenshot(page, 'pg-workers');

      for (const id of ids) {
        const answer = await api.post(`/api/runs/${id}/cancel`, { mode: 'force' });
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      }
      for (const id of ids) await waitForStatus(id, 'cancelled');
    },
    TEST_TIMEOUT_MS,
  );

  it('no page logged a console error, no process logged an error', () => {
    expect(pageErrors.flat()).toEqual([]);
    for (const instance of instances.all) expect(instance.errorLogs(), instance.name).toEqual([]);
  });
});
