/**
 * A private PostgreSQL cluster for tests that stop and start the server (the shared one at
 * PG_URL must never be stopped): `initdb` into a temporary folder, `pg_ctl start` on a free port,
 * `pg_ctl stop -m fast`, start again, and `destroy` (stop, remove the folder).
 *
 * initdb and postgres refuse to run as root: as root, every command runs as the `postgres` user
 * through `runuser`, in a folder that user owns. The binaries are looked up in
 * JOBDECK_PG_BIN, else /usr/lib/postgresql/15/bin.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './pg-instances.js';

const run = promisify(execFile);
export const PG_BIN = process.env.JOBDECK_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * Whether a private cluster can be made here. In CI (`CI` set) missing binaries fail loudly;
 * locally the tests that need one are skipped with a warning that says so.
 */
export function privateClusterAvailable(): boolean {
  if (existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'))) return true;
  const message = `PostgreSQL server binaries not found in ${PG_BIN} (set JOBDECK_PG_BIN)`;
  if (process.env.CI) throw new Error(`${message} and CI is set.`);
  console.warn(
    `\n!!! ${message}: SKIPPING the tests that need a private cluster (set CI=1 to fail instead).\n`,
  );
  return false;
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

export class PrivateCluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly asPostgres: boolean,
  ) {}

  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  static async create(): Promise<PrivateCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'jobdeck-pgc-'));
    const asPostgres = process.getuid?.() === 0;
    if (asPostgres) {
      const { uid, gid } = await postgresIds();
      chownSync(dir, uid, gid);
    }
    const cluster = new PrivateCluster(dir, await freePort(), asPostgres);
    try {
      await cluster.exec('initdb', [
        '-D',
        cluster.dataDir,
        '-A',
        'trust',
        '-U',
        'postgres',
        '-N',
        '--no-instructions',
      ]);
      await cluster.start();
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  private async exec(binary: string, args: string[]): Promise<string> {
    const path = join(PG_BIN, binary);
    const [file, argv] = this.asPostgres
      ? ['runuser', ['-u', 'postgres', '--', path, ...args]]
      : [path, args];
    try {
      const { stdout } = await run(file, argv, { cwd: this.dir, timeout: 60_000 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${binary} ${args.join(' ')} failed: ${e.stderr ?? ''} ${e.message}`);
    }
  }

  /** Start the server and wait until it accepts connections. */
  async start(): Promise<void> {
    await this.exec('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      join(this.dir, 'server.log'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`,
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  /** Stop the server: `pg_ctl stop -m fast` (sessions are cut, no waiting for clients). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  /** Stop (if running) and remove everything. */
  async destroy(): Promise<void> {
    if (existsSync(join(this.dataDir, 'postmaster.pid')))
      await this.stop('immediate').catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
