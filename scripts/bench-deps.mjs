// The benchmark's peers (BullMQ, ioredis, pg-boss, graphile-worker, autocannon) are the
// dependencies of bench/package.json, not of Jobdeck: `npm install` at the root leaves them out.
// This makes bench/node_modules match bench/package-lock.json, with `npm ci` in bench/ when it is
// missing or was installed from other manifests; otherwise it returns at once. `npm run bench` runs
// it, and so do the scripts that read bench/: the type check, lint and the tests (the harness's
// smoke test runs every peer).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = fileURLToPath(new URL('../bench/', import.meta.url));
const modules = join(bench, 'node_modules');
// Written after a successful install: the hash of the manifests it installed.
const stamp = join(modules, '.manifests-sha256');

const hash = createHash('sha256');
for (const file of ['package.json', 'package-lock.json'])
  hash.update(readFileSync(join(bench, file)));
const wanted = hash.digest('hex');

const installed = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : null;
if (installed === wanted) process.exit(0);

console.log(
  installed === null
    ? 'bench-deps: installing the benchmark peers into bench/node_modules (npm ci in bench/; once)'
    : 'bench-deps: bench/package.json or bench/package-lock.json changed since bench/node_modules was installed: npm ci in bench/',
);

// Under `npm run`, npm_execpath is the npm that runs us: use the same one.
const npmCli = process.env.npm_execpath;
const args = ['ci', '--prefix', bench, '--no-audit', '--no-fund'];
const result =
  npmCli && /\.[cm]?js$/.test(npmCli)
    ? spawnSync(process.execPath, [npmCli, ...args], { cwd: bench, stdio: 'inherit' })
    : spawnSync('npm', args, { cwd: bench, stdio: 'inherit', shell: process.platform === 'win32' });

if (result.status !== 0) {
  const why = result.error
    ? result.error.message
    : `npm ci exited with ${result.status ?? result.signal}`;
  console.error(
    `bench-deps: could not install the benchmark peers in bench/ (${why}).\n` +
      '  npm run bench, the type check, lint and the tests need them; fix the error above, then\n' +
      '  run `node scripts/bench-deps.mjs` again (it retries on every run until an install succeeds).',
  );
  process.exit(1);
}
writeFileSync(stamp, `${wanted}\n`);
