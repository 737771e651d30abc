/**
 * The alerts file through the built command line: `jobdeck alerts check` and `jobdeck serve
 * --alerts` refuse a malformed file naming its line and field, and accept a good one.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Children, cleanEnv, freePort, requireBuild } from './helpers/cli-process.js';
import { tempDir } from './helpers/temp.js';

const children = new Children();
const temp = tempDir('jobdeck-alerts-cli-');

const GOOD = `channels:
  ops: { type: webhook, url: "http://127.0.0.1:9/hook", secret: "\${OPS_SECRET}" }
rules:
  - name: failures
    on: [run.failed]
    channels: [ops]
`;
// Line 6: a channel the file does not define.
const BAD = `channels:
  ops: { type: webhook, url: "http://127.0.0.1:9/hook", secret: "\${OPS_SECRET}" }
rules:
  - name: failures
    on: [run.failed]
    channels: [ops, pager]
`;

function file(name: string, text: string): string {
  const path = join(temp.dir, name);
  writeFileSync(path, text);
  return path;
}

beforeAll(() => requireBuild());
afterEach(() => children.killAll());
afterAll(() => temp.cleanup());

describe('the alerts file on the command line', () => {
  const env = cleanEnv({ OPS_SECRET: 'cli-secret-7c1d' });

  it('alerts check: a good file is OK; a bad one exits 1 naming line and field', async () => {
    const good = await children.run(['alerts', 'check', file('good.yaml', GOOD)], { env });
    expect(good.exit.code, good.output()).toBe(0);
    expect(good.stdout).toContain('OK: 1 channel(s) ops (webhook); 1 rule(s) failures');
    expect(good.output()).not.toContain('cli-secret-7c1d');

    const path = file('bad.yaml', BAD);
    const bad = await children.run(['alerts', 'check', path], { env });
    expect(bad.exit.code).toBe(1);
    expect(bad.stderr).toContain(`${path}:6:`);
    expect(bad.stderr).toContain('rules[0].channels[1]: unknown channel "pager"');

    const unset = await children.run(['alerts', 'check', file('good2.yaml', GOOD)], {
      env: cleanEnv(),
    });
    expect(unset.exit.code).toBe(1);
    expect(unset.stderr).toMatch(
      /:2:\d+: channels\.ops\.secret: environment variable OPS_SECRET is not set/,
    );
  });

  it('serve --alerts with a malformed file does not start, and says where the problem is', async () => {
    const path = file('bad-serve.yaml', BAD);
    const port = await freePort();
    const serve = await children.run(
      ['serve', '--port', String(port), '--db', join(temp.dir, 'serve.db'), '--alerts', path],
      { env: cleanEnv({ ...env, JOBDECK_TOKENS: 'root:admin:alerts-cli-admin-token' }) },
    );
    expect(serve.exit.code).toBe(1);
    expect(serve.stderr).toContain(`${path}:6:`);
    expect(serve.stderr).toContain('rules[0].channels[1]');
    expect(serve.stdout).not.toContain('Jobdeck is serving');

    // The same through JOBDECK_ALERTS.
    const viaEnv = await children.run(
      ['serve', '--port', String(port), '--db', join(temp.dir, 'serve.db')],
      {
        env: cleanEnv({
          ...env,
          JOBDECK_ALERTS: path,
          JOBDECK_TOKENS: 'root:admin:alerts-cli-admin-token',
        }),
      },
    );
    expect(viaEnv.exit.code).toBe(1);
    expect(viaEnv.stderr).toContain('rules[0].channels[1]');

    // A good file: the server starts and says what it loaded.
    const good = file('good-serve.yaml', GOOD);
    const started = children.start(
      ['serve', '--port', String(port), '--db', join(temp.dir, 'serve.db'), '--alerts', good],
      { env: cleanEnv({ ...env, JOBDECK_TOKENS: 'root:admin:alerts-cli-admin-token' }) },
    );
    await started.waitForStdout(/alerts +1 rule\(s\), 1 channel\(s\) from /);
    // Started without --jobs or --demo: the banner says how to give it jobs.
    expect(started.output()).toContain('no jobs yet: pass --jobs <module> (your jobs) or --demo');
    expect((await started.stop()).code).toBe(0);
    expect(started.output()).not.toContain('cli-secret-7c1d');
  });
});
