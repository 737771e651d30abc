/**
 * What the dashboard's browser tests share: a real server on SQLite with a job the test holds at
 * a gate, a quick job and a failing one (plus the file's own), headless Chromium, and signed-in
 * pages whose console errors are collected, so a file can check that none was logged.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { JobDefinition } from '../../src/jobs/define.js';
import { Gates, createRun, failingJob, gateJob, quickJob } from '../e2e/support.js';
import { consoleErrors, launchBrowser, signedIn } from './browser.js';
import { TEST_TOKENS, startTestServer, type TestServer } from './server.js';

export const GATE = 'e2e.gate';
export const QUICK = 'e2e.quick';
export const FAILING = 'e2e.failing';

export class DashboardFixture {
  readonly gates = new Gates();
  server!: TestServer;
  browser!: Browser;
  /** Every browser context the file opened, closed at the end. */
  readonly contexts: BrowserContext[] = [];
  /** The console errors of each page opened with `pageAs`. */
  readonly pages = new Map<Page, string[]>();
  /** What each page's console may show because its test provoked it. */
  readonly forgiven = new Map<Page, RegExp[]>();

  /** Starts the server (with `jobs` besides the shared ones) and the browser. */
  async start(jobs: JobDefinition[] = []): Promise<void> {
    [this.server, this.browser] = await Promise.all([
      startTestServer([
        gateJob(this.gates, { name: GATE }),
        quickJob(QUICK),
        failingJob(FAILING),
        ...jobs,
      ]),
      launchBrowser(),
    ]);
  }

  /** A new page signed in as `token`'s principal. */
  async pageAs(token: string, options: Parameters<typeof signedIn>[3] = {}): Promise<Page> {
    const context = await signedIn(this.browser, this.server, token, options);
    this.contexts.push(context);
    const page = await context.newPage();
    this.pages.set(page, consoleErrors(page));
    return page;
  }

  /** A run of the gate job, started and held at its first step. */
  async heldRun(token: string = TEST_TOKENS.alice): Promise<{ id: string; key: string }> {
    const key = this.gates.key();
    const run = await createRun(this.server, GATE, { input: { key } }, token);
    await this.gates.get(key).entered.promise;
    return { id: run.id as string, key };
  }

  /** Forgives the console errors of `page` a test provokes on purpose (a refused request), before or after they come. */
  forgive(page: Page, expected: RegExp): void {
    this.forgiven.set(page, [...(this.forgiven.get(page) ?? []), expected]);
  }

  allErrors(): string[] {
    return [...this.pages].flatMap(([page, errors]) => {
      const forgiven = this.forgiven.get(page) ?? [];
      return errors.filter((error) => !forgiven.some((expected) => expected.test(error)));
    });
  }

  async close(): Promise<void> {
    this.gates.releaseAll();
    for (const context of this.contexts) await context.close().catch(() => {});
    await this.browser?.close();
    await this.server?.close();
  }
}
