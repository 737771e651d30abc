import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('the cancellation example runs and shows graceful, forced and thread stops', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/cancellation.ts'], {
    cwd: new URL('..', import.meta.url).pathname,
    timeout: 60_000,
  });
  expect(stdout).toMatch(/^graceful: cancelled after \d+ of 20 files$/m);
  expect(stdout).toMatch(/cancel delivered \| copied file \d+ \| cleanup after a graceful stop/);
  expect(stdout).toMatch(/^force: cancelled at once$/m);
  expect(stdout).toMatch(/cancel delivered \| cleanup after a force stop/);
  const thread = /^thread: cancelled; its slot was free again after (\d+) ms$/m.exec(stdout);
  expect(thread, stdout).not.toBeNull();
});
