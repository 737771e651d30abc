import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { SESSION_COOKIE } from '../../src/api/sessions.js';
import type { TestServer } from './server.js';

/** Debian's Chromium (`apt-get install chromium`); JOBDECK_CHROMIUM points elsewhere. */
export const CHROMIUM_PATH = process.env.JOBDECK_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of the browser tests: look at them after a run (gitignored). */
export const SCREENSHOT_DIR = new URL('../../test-artifacts/screenshots/', import.meta.url)
  .pathname;
/** The README's pictures of the dashboard, written when JOBDECK_UPDATE_SCREENSHOTS=1. */
export const DOCS_IMAGE_DIR = new URL('../../docs/images/', import.meta.url).pathname;

/**
 * Whether Chromium is installed. In CI (`CI` set) a missing browser fails the run loudly; locally
 * the browser tests are skipped with a warning that says so.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  if (process.env.CI)
    throw new Error(`Chromium is not at ${CHROMIUM_PATH} and CI is set: apt-get install chromium`);
  console.warn(
    `\n!!! Chromium is not at ${CHROMIUM_PATH}: SKIPPING the browser tests (apt-get install chromium; set CI=1 to fail instead).\n`,
  );
  return false;
}

/** Headless Chromium, quiet on this closed network (no background connections, no updates). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * A browser context signed in to the dashboard with `token`'s session cookie, on any server: an
 * in-process test server or a `jobdeck serve` process (`{ url }`).
 */
export async function signedIn(
  browser: Browser,
  server: Pick<TestServer, 'url'>,
  token: string,
  options: { width?: number; height?: number; colorScheme?: 'light' | 'dark' } = {},
): Promise<BrowserContext> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 860 },
    colorScheme: options.colorScheme ?? 'light',
  });
  const res = await fetch(`${server.url}/api/session`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'x-jobdeck-request': '1' },
  });
  await res.body?.cancel();
  if (res.status !== 200) throw new Error(`sign-in answered ${res.status}`);
  const value = new RegExp(`${SESSION_COOKIE}=([^;]+)`).exec(
    res.headers.get('set-cookie') ?? '',
  )?.[1];
  if (!value) throw new Error('sign-in set no session cookie');
  await context.addCookies([{ name: SESSION_COOKIE, value, url: server.url }]);
  return context;
}

/** Collects what the page logs as an error (console errors and uncaught exceptions). */
export function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));
  return errors;
}

/** Saves a full-page screenshot as <name>.png in `dir` (test-artifacts/screenshots). */
export async function screenshot(page: Page, name: string, dir = SCREENSHOT_DIR): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * A picture for the README, the whole page at the context's viewport width: written to
 * docs/images/<name>.png with JOBDECK_UPDATE_SCREENSHOTS=1, else with the other screenshots.
 */
export function docsScreenshot(page: Page, name: string): Promise<string> {
  const update = process.env.JOBDECK_UPDATE_SCREENSHOTS === '1';
  return screenshot(page, name, update ? DOCS_IMAGE_DIR : SCREENSHOT_DIR);
}

/** Whether the page scrolls sideways (it must not, even at 390 px). */
export function horizontalOverflow(page: Page): Promise<number> {
  // A string: this runs in the page, and the test's TypeScript has no DOM types.
  return page.evaluate<number>(
    'document.documentElement.scrollWidth - document.documentElement.clientWidth',
  );
}
