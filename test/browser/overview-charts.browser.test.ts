/**
 * The overview's charts in headless Chromium against a real server on SQLite: runs of every final
 * status drawn by status and by the slowest job's p95, with legends and text summaries; the Range
 * control asking GET /api/stats for the matching buckets; a finished run redrawn without a reload;
 * dark theme and 390 px; no console error and no Content-Security-Policy violation.
 * Screenshots: test-artifacts/screenshots/overview-charts-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import {
  chromiumAvailable,
  consoleErrors,
  horizontalOverflow,
  launchBrowser,
  screenshot,
  signedIn,
} from '../helpers/browser.js';
import { EVENT_DEADLINE_MS } from '../helpers/poll.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import {
  Gates,
  createRun,
  failingJob,
  fanOutJob,
  gateJob,
  quickJob,
  waitForStatus,
} from '../e2e/support.js';

const available = chromiumAvailable();
const gates = new Gates();
const GATE = 'charts.gate';
const QUICK = 'charts.quick';
const FAILING = 'charts.failing';
const FAN_OUT = 'charts.fan-out';
const LIVE = { timeout: EVENT_DEADLINE_MS };
const HOUR = 3_600_000;

let server: TestServer;
let browser: Browser;
const contexts: BrowserContext[] = [];
const pages = new Map<Page, string[]>();

// Runs before the app on every page: records what the Content-Security-Policy refused.
const RECORD_CSP_VIOLATIONS = `
  window.cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) =>
    window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
`;

async function pageAs(token: string, options: Parameters<typeof signedIn>[3] = {}): Promise<Page> {
  const context = await signedIn(browser, server, token, options);
  contexts.push(context);
  await context.addInitScript({ content: RECORD_CSP_VIOLATIONS });
  const page = await context.newPage();
  pages.set(page, consoleErrors(page));
  return page;
}

/** What the CSP refused on the page as loaded now (none may be). */
const cspViolations = (page: Page) => page.evaluate<string[]>('window.cspViolations');

/** The next GET /api/stats of the charts (the cards' request has no bucket). */
function nextChartStats(page: Page, bucket: string): Promise<Request> {
  return page.waitForRequest((request) => {
    const url = new URL(request.url());
    return url.pathname === '/api/stats' && url.searchParams.get('bucket') === bucket;
  }, LIVE);
}

function windowOf(request: Request): number {
  const url = new URL(request.url());
  return Date.parse(url.searchParams.get('to')!) - Date.parse(url.searchParams.get('from')!);
}

/** The chart of runs ended, found by its text summary. */
const endedChart = (page: Page, summary: string | RegExp) =>
  page.getByRole('img', { name: summary });

async function waitForCharts(page: Page): Promise<void> {
  await expect.poll(() => page.locator('.chart canvas').count(), LIVE).toBeGreaterThanOrEqual(2);
}

// Each test waits for several pages and updates, each with the deadline of a loaded machine.
describe.skipIf(!available)('overview charts in a browser', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startTestServer([
        gateJob(gates, { name: GATE }),
        quickJob(QUICK),
        failingJob(FAILING),
        fanOutJob(gates, FAN_OUT),
      ]),
      launchBrowser(),
    ]);
    // Runs of every final status: 3 completed, 1 partial, 2 failed, 1 cancelled.
    const ended: [string, string][] = [];
    for (let n = 0; n < 3; n++) ended.push([(await createRun(server, QUICK, {})).id, 'completed']);
    for (let n = 0; n < 2; n++) ended.push([(await createRun(server, FAILING, {})).id, 'failed']);
    const partial = await createRun(server, FAN_OUT, {
      input: { key: gates.key(), items: ['a', 'b'], fail: ['b'] },
    });
    ended.push([partial.id, 'partial']);
    const key = gates.key();
    const held = await createRun(server, GATE, { input: { key } });
    await gates.get(key).entered.promise;
    const cancel = await server.request('POST', `/api/runs/${held.id}/cancel`, {
      token: TEST_TOKENS.alice,
      body: { mode: 'force', reason: 'charts' },
    });
    expect(cancel.status).toBe(200);
    ended.push([held.id, 'cancelled']);
    for (const [id, status] of ended) await waitForStatus(server, id, status);
  }, 60_000);

  afterAll(async () => {
    gates.releaseAll();
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await server?.close();
  });

  it('draws runs ended by final status and the slowest p95, each with a legend and a summary', async () => {
    const page = await pageAs(TEST_TOKENS.viewer);
    const stats = nextChartStats(page, '5m');
    await page.goto(`${server.url}/dashboard`);
    // The default range is the last day, in 5 min buckets.
    expect(windowOf(await stats)).toBe(24 * HOUR);
    await waitForCharts(page);
    expect(await page.getByLabel('Range').inputValue()).toBe('day');

    const ended = endedChart(
      page,
      'Runs ended per 5 minutes over the last 24 hours: 3 completed, 1 partial, 2 failed, 1 cancelled.',
    );
    await ended.waitFor(LIVE);
    const [endedFigure, p95Figure] = await page.locator('figure.chart').all();
    expect(await endedFigure!.locator('figcaption').textContent()).toBe(
      'Runs ended, by final status',
    );
    expect(await endedFigure!.locator('canvas').count()).toBeGreaterThan(0);
    const legend = endedFigure!.getByRole('list', { name: 'Legend' });
    expect(await legend.getByRole('listitem').allTextContents()).toEqual([
      'completed 3',
      'partial 1',
      'failed 2',
      'cancelled 1',
    ]);

    const p95 = p95Figure!.getByRole('img', {
      name: /^The slowest job’s p95 run duration per 5 minutes over the last 24 hours: highest \d[\d.]* (ms|s|min) \(charts\.[a-z-]+\) in the 5 minutes from .+\.$/,
    });
    await p95.waitFor(LIVE);
    expect(await p95Figure!.locator('canvas').count()).toBeGreaterThan(0);
    const p95Legend = await p95Figure!
      .getByRole('list', { name: 'Legend' })
      .getByRole('listitem')
      .allTextContents();
    expect(p95Legend).toHaveLength(1);
    expect(p95Legend[0]).toMatch(/^slowest job’s p95 \d[\d.]* (ms|s|min)/);

    // Pointing at the chart shows the bucket's own figures in the legend.
    await endedFigure!.locator('.u-over').hover();
    await expect
      .poll(() => endedFigure!.locator('.chart-legend > span').textContent(), LIVE)
      .not.toContain('Total');
    await page.mouse.move(0, 0);
    await expect
      .poll(() => endedFigure!.locator('.chart-legend > span').textContent(), LIVE)
      .toBe('Total over the last 24 hours');

    await screenshot(page, 'overview-charts-light');
    expect(await cspViolations(page)).toEqual([]);
  });

  it('Range asks for 1 min buckets over an hour and 1 h buckets over a week, and stays in the URL', async () => {
    const page = await pageAs(TEST_TOKENS.viewer);
    await page.goto(`${server.url}/dashboard`);
    await waitForCharts(page);
    for (const [label, value, bucket, span, summary] of [
      ['Hour', 'hour', '1m', HOUR, 'Runs ended per minute over the last hour'],
      ['Week', 'week', '1h', 7 * 24 * HOUR, 'Runs ended per hour over the last 7 days'],
      ['Day', 'day', '5m', 24 * HOUR, 'Runs ended per 5 minutes over the last 24 hours'],
    ] as const) {
      const stats = nextChartStats(page, bucket);
      await page.getByLabel('Range').selectOption({ label });
      expect(windowOf(await stats)).toBe(span);
      await endedChart(page, `${summary}: 3 completed, 1 partial, 2 failed, 1 cancelled.`).waitFor(
        LIVE,
      );
      expect(new URL(page.url()).searchParams.get('range')).toBe(value);
    }
    // A reload (or a shared link) keeps the range.
    await page.getByLabel('Range').selectOption({ label: 'Week' });
    await page.waitForURL(/range=week/, LIVE);
    const stats = nextChartStats(page, '1h');
    await page.reload();
    await stats;
    expect(await page.getByLabel('Range').inputValue()).toBe('week');
    await waitForCharts(page);
    await screenshot(page, 'overview-charts-week');
    expect(await cspViolations(page)).toEqual([]);
  });

  it('a run that finishes is counted without a reload', async () => {
    const page = await pageAs(TEST_TOKENS.viewer);
    await page.goto(`${server.url}/dashboard?range=hour`);
    const before = 'Runs ended per minute over the last hour: 3 completed, 1 partial, 2 failed';
    await endedChart(page, new RegExp(`^${before}`)).waitFor(LIVE);
    const failed = await createRun(server, FAILING, {});
    await waitForStatus(server, failed.id, 'failed');
    await endedChart(
      page,
      'Runs ended per minute over the last hour: 3 completed, 1 partial, 3 failed, 1 cancelled.',
    ).waitFor(LIVE);
    expect(await cspViolations(page)).toEqual([]);
  });

  it('dark theme at 390 px: the charts fit without sideways scroll and redraw when the theme changes', async () => {
    const phone = await pageAs(TEST_TOKENS.admin, { width: 390, colorScheme: 'dark' });
    await phone.goto(`${server.url}/dashboard`);
    await waitForCharts(phone);
    await phone.getByRole('img', { name: /^Runs ended per 5 minutes/ }).waitFor(LIVE);
    expect(await horizontalOverflow(phone)).toBeLessThanOrEqual(0);
    // Each plot is as wide as its box, not wider.
    const overhang = () =>
      phone.evaluate<number>(
        `Math.max(...[...document.querySelectorAll('.chart-plot')].map(
           (box) => box.querySelector('canvas').getBoundingClientRect().width - box.clientWidth))`,
      );
    expect(await overhang()).toBeLessThanOrEqual(0);
    await screenshot(phone, 'overview-charts-390-dark');

    // uPlot's colours are explicit: a theme change draws the charts anew in the new colours.
    await phone.evaluate(
      `document.querySelectorAll('.chart canvas').forEach((c) => { c.dataset.drawn = 'dark'; })`,
    );
    await phone.getByLabel('Theme').selectOption('light');
    await expect
      .poll(() => phone.locator('.chart canvas[data-drawn="dark"]').count(), LIVE)
      .toBe(0);
    await waitForCharts(phone);
    expect(await overhang()).toBeLessThanOrEqual(0);
    await screenshot(phone, 'overview-charts-390-light');

    // The width follows the window both ways.
    await phone.setViewportSize({ width: 1100, height: 860 });
    await expect.poll(overhang, LIVE).toBeLessThanOrEqual(0);
    await expect
      .poll(
        () => phone.evaluate<number>(`document.querySelector('.chart canvas').clientWidth`),
        LIVE,
      )
      .toBeGreaterThan(400);
    await phone.setViewportSize({ width: 390, height: 860 });
    await expect.poll(() => horizontalOverflow(phone), LIVE).toBeLessThanOrEqual(0);
    await expect.poll(overhang, LIVE).toBeLessThanOrEqual(0);

    const wide = await pageAs(TEST_TOKENS.admin, { colorScheme: 'dark' });
    await wide.goto(`${server.url}/dashboard`);
    await waitForCharts(wide);
    await wide.getByRole('img', { name: /^Runs ended per 5 minutes/ }).waitFor(LIVE);
    await screenshot(wide, 'overview-charts-dark');
    for (const page of [phone, wide]) expect(await cspViolations(page)).toEqual([]);
  });

  it('no page logged a console error', () => {
    expect([...pages.values()].flat()).toEqual([]);
  });
});
