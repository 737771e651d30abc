import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLI_COMMANDS, type ResultRow, type WorkloadContext } from '../lib/results.js';
import { summarize } from '../lib/stats.js';
import { startApiServer } from './api.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Wall time of one `node bin/jobdeck.js <args>`, from spawn to exit (ms); throws unless it exits 0. */
function timeCommand(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['bin/jobdeck.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`jobdeck ${args.join(' ')} exited with ${code}: ${stderr}`));
    });
  });
}

/**
 * Workload 9: the command line as a person uses it — `jobdeck --version`, `jobs` and `runs`, each
 * a new process (`node bin/jobdeck.js`, from dist/), against an API server (SQLite, a child process)
 * → wall time from spawn to exit; each repeat is the median of `cliCalls` calls. The client
 * commands talk HTTP only, so the backend behind the server changes nothing: one system is timed.
 */
export async function cliWorkload(ctx: WorkloadContext): Promise<ResultRow[]> {
  if (!ctx.systems.includes('jobdeck-sqlite')) return [];
  const perCommand = CLI_COMMANDS.map(() => [] as number[]);
  for (let r = 0; r < ctx.repeats; r++) {
    ctx.log(`cli: repeat ${r + 1}/${ctx.repeats} (${ctx.sizes.cliCalls} calls of each command)`);
    const server = await startApiServer(ctx, 'jobdeck-sqlite');
    try {
      const env = {
        JOBDECK_URL: `http://127.0.0.1:${server.info.port}`,
        JOBDECK_TOKEN: server.info.token,
      };
      for (const [index, args] of CLI_COMMANDS.entries()) {
        const times: number[] = [];
        for (let i = 0; i < ctx.sizes.cliCalls; i++) times.push(await timeCommand(args, env));
        perCommand[index]!.push(summarize(times).median);
      }
    } finally {
      await server.close();
    }
  }
  return CLI_COMMANDS.map((args, index) => ({
    workload: 'cli' as const,
    system: 'jobdeck-sqlite' as const,
    variant: `jobdeck ${args.join(' ')}`,
    compareKey: `cli ${args.join(' ')}`,
    metric: 'wall time',
    unit: 'ms',
    better: 'lower' as const,
    summary: summarize(perCommand[index]!),
    note: `median of ${ctx.sizes.cliCalls} calls per repeat, each a new node process`,
  }));
}
