import type { SystemName } from '../adapters/types.js';
import type { Sizes } from './sizes.js';
import type { Summary } from './stats.js';

export const WORKLOADS = [
  'enqueue',
  'throughput',
  'latency',
  'cancel',
  'crash',
  'api',
  'memory',
  'sse',
  'cli',
] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

/** The client commands the CLI workload times, as `jobdeck <args>`: what a person types first. */
export const CLI_COMMANDS = [['--version'], ['jobs'], ['runs']] as const;

/** One line of the report: one system, one variant, one metric, summarised over the repeats. */
export interface ResultRow {
  workload: WorkloadName;
  system: SystemName;
  /** e.g. "c16", "c16 batched", "one by one", "cross-process". */
  variant: string;
  /** Rows with the same comparison key are compared with each other (e.g. batched modes with plain). */
  compareKey: string;
  metric: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Median/min/max over the repeats; null when unsupported or not measured. */
  summary: Summary | null;
  /** Why there is no figure (unsupported, failed), with what actually happened. */
  unsupported?: string;
  /** Anything else worth recording (counts, capped repeats, per-repeat details). */
  note?: string;
  extra?: Record<string, unknown>;
}

export interface WorkloadContext {
  sizes: Sizes;
  repeats: number;
  /** Folder for SQLite files and other temporary data. */
  dir: string;
  /** Unique per invocation: every namespace derives from it. */
  runId: string;
  systems: readonly SystemName[];
  log(message: string): void;
  /** Settings each adapter reported, by system (filled as the workloads run). */
  settings: Map<SystemName, Record<string, unknown>>;
}

let counter = 0;
/** A fresh namespace (schema/queue/file name part): lowercase letters, digits, underscore. */
export function namespace(ctx: WorkloadContext, tag: string): string {
  counter += 1;
  return `${ctx.runId}_${tag}_${counter}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}
