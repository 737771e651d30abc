/**
 * A guide is code: every TypeScript block of the guides and the README comes from a file under
 * examples/ (marked `<!-- example: path -->` when the blocks of a file, in order, are the whole
 * file; `<!-- excerpt: path -->` when a block is a part of it, as it is there), every example is
 * type-checked with the sources (tsconfig.json includes examples/), and each runs here — as a
 * user runs it, with a deadline — or is used by a test named below.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Jobdeck } from '../src/jobdeck.js';
import { loadJobsModule } from '../src/jobs/load.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { Children, cleanEnv, freePort, requireBuild, ROOT } from './helpers/cli-process.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { EVENT_DEADLINE_MS } from './helpers/poll.js';
import { PG_URL, postgresReachable } from './helpers/postgres.js';
import { tempDir } from './helpers/temp.js';

const execFileAsync = promisify(execFile);
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const defer = cleanupAfterEach();

/** The documents whose code blocks must come from examples/. */
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs/guides')).map((name) => `docs/guides/${name}`),
];
/** Languages whose blocks are code a reader copies into a file (shell and YAML may stay inline). */
const CODE = ['ts', 'typescript', 'js', 'javascript', 'tsx', 'mjs'];

interface Block {
  doc: string;
  line: number;
  lang: string;
  code: string;
  marker: { kind: 'example' | 'excerpt'; path: string } | null;
}

/** Every fenced block of a markdown document, its indentation removed, with the marker above it. */
function blocksOf(doc: string): Block[] {
  const lines = read(doc).split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, lang] = open;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() !== '```') body.push(lines[j++]!);
    let above = i - 1;
    while (above >= 0 && lines[above]!.trim() === '') above--;
    const marker = /^\s*<!-- (example|excerpt): (\S+) -->$/.exec(lines[above] ?? '');
    blocks.push({
      doc,
      line: i + 1,
      lang: lang!,
      code: body.map((line) => line.slice(indent!.length)).join('\n'),
      marker: marker ? { kind: marker[1] as 'example' | 'excerpt', path: marker[2]! } : null,
    });
    i = j;
  }
  return blocks;
}

const blocks = DOCS.flatMap(blocksOf);
const where = (block: Block) => `${block.doc}:${block.line}`;

/** Every file under examples/, as a path from the root. */
function exampleFiles(dir = join(ROOT, 'examples')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? exampleFiles(join(dir, entry.name))
      : [relative(ROOT, join(dir, entry.name))],
  );
}

/** Example files not run by this file, and the test that uses them instead. */
const USED_ELSEWHERE: Record<string, string> = {
  'examples/getting-started/jobs.ts': 'imported by main.ts; loaded by `jobdeck serve --jobs` below',
  'examples/removal.ts': 'its job runs in an instance below',
  'examples/verify-webhook.ts': 'src/alerts/config.test.ts calls it with signed bodies',
  'examples/alerts.yaml': 'src/alerts/config.test.ts parses it',
  'examples/chatops.yaml': 'src/chatops/config.test.ts loads it',
};
/** Example files run below, as a user runs them. */
const RUN_HERE = [
  'examples/getting-started/main.ts',
  'examples/getting-started/many.ts',
  'examples/getting-started/postgres.ts',
  'examples/cancellation.ts',
  'examples/durable-steps.ts',
  'examples/child-runs.ts',
];

describe('the code blocks of the guides and the README', () => {
  it('every TypeScript block is marked with the example file it comes from', () => {
    const unmarked = blocks.filter((b) => CODE.includes(b.lang) && !b.marker).map(where);
    expect(unmarked).toEqual([]);
    expect(blocks.filter((b) => b.marker).length).toBeGreaterThan(5);
  });

  it('the blocks of a file shown whole are, in order, the file', () => {
    const shown = new Map<string, Block[]>();
    for (const block of blocks.filter((b) => b.marker?.kind === 'example'))
      shown.set(block.marker!.path, [...(shown.get(block.marker!.path) ?? []), block]);
    for (const [path, parts] of shown) {
      expect(
        parts.map((b) => b.code.trim()).join('\n\n'),
        `${path} (${parts.map(where).join(', ')})`,
      ).toBe(read(path).trim());
    }
  });

  it('an excerpt is in its file as it is', () => {
    for (const block of blocks.filter((b) => b.marker?.kind === 'excerpt')) {
      expect(read(block.marker!.path), where(block)).toContain(block.code.trim());
    }
  });

  it('every example is type-checked, and runs here or is used by a named test', () => {
    const tsconfig = JSON.parse(read('tsconfig.json')) as { include: string[] };
    expect(tsconfig.include).toContain('examples');
    const covered = [...RUN_HERE, ...Object.keys(USED_ELSEWHERE)].sort();
    expect(exampleFiles().sort()).toEqual(covered);
    for (const block of blocks.filter((b) => b.marker))
      expect(covered, where(block)).toContain(block.marker!.path);
  });
});

/**
 * Run an example as a user runs it (`node --import tsx <file>`), in a folder of its own; the
 * checkout's tsconfig maps `jobdeck` to its sources, as the package maps it to dist/.
 */
async function runExample(path: string, env: Record<string, string> = {}) {
  const { dir, cleanup } = tempDir('jobdeck-example-');
  defer(cleanup);
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(ROOT, path)],
    {
      cwd: dir,
      env: { ...cleanEnv(env), TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') },
      timeout: EVENT_DEADLINE_MS,
    },
  );
  return { stdout, dir };
}

describe('the examples run as written', () => {
  it('getting started: a run completes with its report, and a graceful cancel ends the other partial; the script ends', async () => {
    const { stdout, dir } = await runExample('examples/getting-started/main.ts');
    const id = /^created (\S+)$/m.exec(stdout)?.[1];
    expect(id, stdout).toBeDefined();
    expect(stdout).toContain(`${id}: 6/6 months`);
    const done = new RegExp(`^${id} completed: (.*)$`, 'm').exec(stdout);
    expect(done, stdout).not.toBeNull();
    const result = JSON.parse(done![1]!) as { file: string; months: number };
    expect(result.months).toBe(6);
    expect(JSON.parse(readFileSync(result.file, 'utf8'))).toMatchObject({ succeeded: 6 });
    expect(stdout).toMatch(/^\S+ partial after \d+ of 24 months$/m);
    // The store is the file the guide names, in the folder the script ran in.
    expect(existsSync(join(dir, '.jobdeck', 'jobdeck.db'))).toBe(true);
  });

  it('getting started, many runs: each answered in order (a key given twice makes one run, a bad input is refused); the runs complete', async () => {
    const { stdout } = await runExample('examples/getting-started/many.ts');
    const lines = stdout.trim().split('\n');
    const [first, second] = [1, 2].map((n) => /^created (\S+)$/.exec(lines[n - 1] ?? '')?.[1]);
    expect(first, stdout).toBeDefined();
    expect(second, stdout).toBeDefined();
    expect(lines.slice(2)).toEqual([
      `already there ${second}`,
      'refused: INVALID_INPUT The input is not valid.',
      `${first} completed`,
      `${second} completed`,
    ]);
  });

  it('getting started on PostgreSQL: the store with its pool settings runs the job (a database of its own)', async () => {
    if (!(await postgresReachable())) return;
    const database = `jdt_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    defer(() => admin.end());
    await admin.query(`CREATE DATABASE ${database}`);
    defer(() => admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    const url = new URL(PG_URL);
    url.pathname = `/${database}`;
    const { stdout } = await runExample('examples/getting-started/postgres.ts', {
      DATABASE_URL: url.toString(),
    });
    expect(stdout).toMatch(/^\S+ completed on PostgreSQL: \{"file":"[^"]+","months":2\}$/m);
  });

  it('durable steps: the retry after a failed step does not run the completed step again', async () => {
    const { stdout } = await runExample('examples/durable-steps.ts');
    expect(stdout.trim().split('\n')).toEqual([
      'completed after 2 attempts: {"url":"https://files.example.com/exports/2026-11.csv","rows":1200}',
      'calls: {"export":1,"upload":2,"notify":1}',
      'step export: completed (attempt 1)',
      'step upload: completed (attempt 2)',
      'step notify: completed (attempt 2)',
    ]);
  });

  it('child runs: a parent waits for three children on a worker of one slot, then gathers their results', async () => {
    const { stdout } = await runExample('examples/child-runs.ts');
    expect(stdout.trim().split('\n')).toEqual([
      'completed: {"thumbnails":3,"bytes":21000}',
      'children (trigger parent): cat.jpg completed, dog.jpg completed, owl.jpg completed',
    ]);
  });

  it('cancellation: graceful, forced, a session closed by finally, and a thread stopped', async () => {
    const { stdout } = await runExample('examples/cancellation.ts');
    expect(stdout).toMatch(/^graceful: cancelled after \d+ of 20 files$/m);
    expect(stdout).toMatch(/cancel delivered \| copied file \d+ \| cleanup after a graceful stop/);
    expect(stdout).toMatch(/^force: cancelled at once$/m);
    expect(stdout).toMatch(/cancel delivered \| cleanup after a force stop/);
    expect(stdout).toMatch(/^sync: cancelled; sessions open: 0$/m);
    expect(stdout).toMatch(/^thread: cancelled; its slot was free again after \d+ ms$/m);
  });

  it("the README's job runs in an instance", async () => {
    const jobs = await loadJobsModule(join(ROOT, 'examples/removal.ts'));
    const { dir } = tempDir();
    const deck = await new Jobdeck({
      store: new SqliteStore({ path: join(dir, 'jobdeck.db') }),
      jobs,
      worker: { pollMs: 20 },
    }).start();
    defer(() => deck.close());
    const { run } = await deck.runs.create({
      job: 'removal_workflow',
      input: { groupId: 'g1', batchSize: 2 },
    });
    const finished = await deck.runs.wait(run.id, { timeoutMs: EVENT_DEADLINE_MS });
    expect(finished).toMatchObject({ status: 'completed', result: { removed: 5 } });
    expect(finished.items.map((item) => item.key)).toEqual(['batch-0', 'batch-1', 'batch-2']);
  });
});

describe('`jobdeck serve --jobs ./jobs.ts`, as the guide says', () => {
  const children = new Children();
  beforeAll(() => requireBuild());
  afterAll(() => children.killAll());

  it('loads the TypeScript jobs file through tsx, and a run triggered from the shell completes', async () => {
    const { dir, cleanup } = tempDir('jobdeck-serve-ts-');
    defer(cleanup);
    const port = await freePort();
    const token = 'examples-admin-token-3c9e1a';
    const server = children.start(
      ['serve', '--jobs', join(ROOT, 'examples/getting-started/jobs.ts'), '--port', String(port)],
      { env: cleanEnv({ JOBDECK_TOKENS: `me:admin:${token}` }), cwd: dir },
    );
    await server.waitForStdout(/Jobdeck is serving 1 job on/);
    const env = cleanEnv({ JOBDECK_URL: `http://127.0.0.1:${port}`, JOBDECK_TOKEN: token });
    const trigger = await children.run(
      ['trigger', 'report.monthly', '--input', '{"customerId":"c1","months":6}', '--json'],
      { env },
    );
    expect(trigger.exit.code, trigger.output()).toBe(0);
    const { run } = JSON.parse(trigger.stdout) as { run: { id: string } };
    const watch = await children.run(['watch', run.id], { env, timeoutMs: EVENT_DEADLINE_MS });
    expect(watch.exit.code, watch.output()).toBe(0);
    expect((await server.stop()).code).toBe(0);
  });
});
