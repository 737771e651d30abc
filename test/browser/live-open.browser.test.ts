/**
 * The dashboard's event stream opens after a page's first read: what changed in between is read
 * again once it opens. The stream's request is held back in the browser until the run has ended,
 * so the ended status can only come from that read.
 */
import { afterAll, beforeAll, describe, it, vi } from 'vitest';
import type { Browser } from 'playwright-core';
import { chromiumAvailable, consoleErrors, launchBrowser, signedIn } from '../helpers/browser.js';
import { deferred } from '../helpers/deck.js';
import { EVENT_DEADLINE_MS } from '../helpers/poll.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import { Gates, createRun, gateJob } from '../e2e/support.js';

const available = chromiumAvailable();
const gates = new Gates();
const JOB = 'e2e.live_open';
vi.setConfig({ testTimeout: 3 * EVENT_DEADLINE_MS, hookTimeout: 2 * EVENT_DEADLINE_MS });
const LIVE = { timeout: EVENT_DEADLINE_MS };

let server: TestServer;
let browser: Browser;

describe.skipIf(!available)('dashboard: the event stream opening', () => {
  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startTestServer([gateJob(gates, { name: JOB })]),
      launchBrowser(),
    ]);
  }, 60_000);

  afterAll(async () => {
    gates.releaseAll();
    await browser?.close();
    await server?.close();
  });

  it('a run that ended before the stream opened is shown ended once it opens', async () => {
    const context = await signedIn(browser, server, TEST_TOKENS.alice);
    try {
      const page = await context.newPage();
      const errors = consoleErrors(page);
      const release = deferred<void>();
      const held = deferred<void>();
      await page.route('**/api/events**', async (route) => {
        held.resolve();
        await release.promise;
        await route.continue();
      });
      const key = gates.key('run');
      const { id } = await createRun(server, JOB, { input: { key } });
      await gates.get(key).entered.promise;

      await page.goto(`${server.url}/dashboard/runs/${id}`);
      await page.locator('h1 .badge', { hasText: 'running' }).waitFor(LIVE);
      await held.promise;
      await server.deck.cancels.cancel(id, { mode: 'force' });
      await server.deck.runs.wait(id, { timeoutMs: EVENT_DEADLINE_MS });

      release.resolve();
      await page.locator('h1 .badge', { hasText: 'cancelled' }).waitFor(LIVE);
      if (errors.length > 0) throw new Error(`console errors: ${errors.join('\n')}`);
    } finally {
      await context.close();
    }
  });
});
