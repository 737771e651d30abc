/**
 * Alerts in the dashboard, in headless Chromium against a real server on SQLite: a run past its
 * stuckAfter shows "stuck since …" on its page without a reload, and the Alerts page lists its
 * run.stuck alert with the delivery to a local receiver. Screenshots: test-artifacts/screenshots.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Browser } from 'playwright-core';
import { parseAlertsConfig } from '../../src/alerts/config.js';
import { defineJob } from '../../src/jobs/define.js';
import {
  chromiumAvailable,
  consoleErrors,
  launchBrowser,
  screenshot,
  signedIn,
} from '../helpers/browser.js';
import { deferred } from '../helpers/deck.js';
import { EVENT_DEADLINE_MS, pollUntil } from '../helpers/poll.js';
import { Receiver } from '../helpers/receiver.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';

const available = chromiumAvailable();
// A loaded machine runs browser steps slowly: each test may take a few event deadlines.
vi.setConfig({ testTimeout: 3 * EVENT_DEADLINE_MS, hookTimeout: 2 * EVENT_DEADLINE_MS });
const LIVE = { timeout: EVENT_DEADLINE_MS };
const release = deferred();

const slow = defineJob({
  name: 'reports.slow',
  stuckAfter: 1,
  run: async (ctx) => {
    await Promise.race([
      release.promise,
      new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)),
    ]);
  },
});

let server: TestServer;
let browser: Browser;
let receiver: Receiver;

describe.skipIf(!available)('alerts in the dashboard', () => {
  beforeAll(async () => {
    receiver = await Receiver.start();
    server = await startTestServer([slow], {
      deck: {
        // The test checks for stuck runs itself, once the page is ready.
        maintenance: { intervalMs: 50, stuckCheckMs: 3_600_000 },
        alerts: {
          deliveryPollMs: 100,
          config: parseAlertsConfig(
            `channels:
  team: { type: slack, url: "${receiver.url('/slack')}" }
rules:
  - { name: stuck-runs, on: [run.stuck], cooldown: 0, channels: [team] }
`,
            'alerts.yaml',
            {},
          ),
        },
      },
    });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    release.resolve();
    await browser?.close();
    await server?.close();
    await receiver?.close();
  });

  it('a stuck run shows "stuck since" live, and the Alerts page lists its delivered alert', async () => {
    const context = await signedIn(browser, server, TEST_TOKENS.viewer);
    const page = await context.newPage();
    const errors = consoleErrors(page);
    const { run } = await server.deck.runs.create({ job: 'reports.slow' });
    await pollUntil(async () => (await server.deck.runs.get(run.id)).status === 'running', {
      timeoutMs: EVENT_DEADLINE_MS,
    });
    await page.goto(`${server.url}/dashboard/runs/${run.id}`);
    await page.getByRole('heading', { level: 1, name: /reports\.slow/ }).waitFor(LIVE);
    // The page follows the live stream from now on: the check finds the run stuck only then.
    await pollUntil(
      async () =>
        /^jobdeck_event_streams 1$/m.test(
          (await server.request('GET', '/metrics', { token: TEST_TOKENS.viewer })).body,
        ),
      { timeoutMs: EVENT_DEADLINE_MS, what: 'the page to open its event stream' },
    );
    expect((await server.deck.maintenance!.markStuck()).map((r) => r.id)).toEqual([run.id]);
    await page.getByText(/stuck since/).waitFor(LIVE);
    await screenshot(page, 'run-stuck');

    await receiver.waitFor(1);
    await page.getByRole('link', { name: 'Alerts' }).click();
    await page.getByRole('heading', { level: 1, name: 'Alerts' }).waitFor(LIVE);
    const row = page.locator('tbody tr', { hasText: 'stuck-runs' });
    await row.getByText('team: delivered, 1 attempt').waitFor(LIVE);
    expect(await row.textContent()).toContain('run.stuck');
    expect(await row.locator('.badge').textContent()).toBe('delivered');
    await screenshot(page, 'alerts');
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);
});
