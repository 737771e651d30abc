import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { createRequire } from 'node:module';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  ramGiB: number;
  os: string;
  node: string;
  postgres: string | null;
  redis: string | null;
}

function firstLine(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')[0]!
      .trim();
  } catch {
    return null;
  }
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':')[1]!.trim();
  } catch {
    // Not Linux: os.cpus() said it.
  }
  let osName = `${process.platform} ${process.arch}`;
  try {
    const pretty = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'));
    if (pretty) osName = `${pretty[1]} (${process.arch})`;
  } catch {
    // keep the platform
  }
  return {
    cpuModel,
    cores: cpus().length,
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: osName,
    node: process.version,
    postgres: null,
    redis: firstLine('redis-server', ['--version']),
  };
}

/**
 * The installed version of a package (from its package.json), as an import from `from` finds it:
 * by default from bench/, where the peers' packages (bench/node_modules) come first.
 */
export function packageVersion(name: string, from: string | URL = import.meta.url): string {
  const require = createRequire(from);
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    // Packages whose exports hide package.json: find it next to the entry point.
    try {
      const entry = require.resolve(name);
      const root = entry.slice(
        0,
        entry.lastIndexOf(`node_modules/${name}/`) + `node_modules/${name}/`.length,
      );
      return (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string })
        .version;
    } catch {
      return 'unknown';
    }
  }
}

/** Resident memory of a process on this machine (VmRSS of /proc/<pid>/status), in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]);
  return kb / 1024;
}
