import { readdirSync, readFileSync } from 'node:fs';
import { pollUntil } from './poll.js';

/** Whether a process with this pid exists (a zombie counts until it is reaped). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether any process of this process group is left: `kill(-pgid, 0)` fails with ESRCH once all are gone. */
export function processGroupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export interface ChildProcessInfo {
  pid: number;
  /** The executable's name (kept by a zombie, unlike the command line). */
  name: string;
  /** R running, S sleeping, Z zombie (ended, not yet reaped), … */
  state: string;
  command: string;
}

/** The child processes of `pid` (Linux: read from /proc). */
export function childProcessesOf(pid: number): ChildProcessInfo[] {
  const children: ChildProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may hold spaces: state, ppid, …
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== pid) continue;
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      children.push({ pid: Number(entry), name, state: state!, command });
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

/** The pids of the processes in process group `pgid` (Linux: read from /proc). */
export function processGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // state, ppid, pgrp: a zombie waiting to be reaped is not a survivor.
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return members;
}

/**
 * The children a test may find besides its own: tsx, loaded into worker threads when Jobdeck runs
 * from its TypeScript sources, starts an esbuild service on a cache miss. It is the loader, not a
 * handler's process, and a compiled build has none.
 */
function isLoaderService(child: ChildProcessInfo): boolean {
  return child.name === 'esbuild';
}

/** Wait (up to `timeoutMs`) until this process has no child process left; fail naming the survivors. */
export async function expectNoChildProcesses(timeoutMs = 5000): Promise<void> {
  const survivors = () => childProcessesOf(process.pid).filter((c) => !isLoaderService(c));
  await pollUntil(() => survivors().length === 0, {
    what: 'the child processes of the test process to be gone',
    timeoutMs,
  }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(survivors())}`);
  });
}
