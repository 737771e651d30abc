/**
 * One interface in front of every queue the benchmark compares. Each adapter is configured the way
 * that system's documentation recommends, and says so in `settings`.
 */

export const SYSTEMS = [
  'jobdeck-sqlite',
  'jobdeck-pg',
  'bullmq',
  'pg-boss',
  'graphile-worker',
] as const;
export type SystemName = (typeof SYSTEMS)[number];

export const JOBDECK_SYSTEMS: readonly SystemName[] = ['jobdeck-sqlite', 'jobdeck-pg'];
export const PEER_SYSTEMS: readonly SystemName[] = ['bullmq', 'pg-boss', 'graphile-worker'];

export type Backend = 'SQLite' | 'PostgreSQL' | 'Redis';

export const BACKEND: Record<SystemName, Backend> = {
  'jobdeck-sqlite': 'SQLite',
  'jobdeck-pg': 'PostgreSQL',
  bullmq: 'Redis',
  'pg-boss': 'PostgreSQL',
  'graphile-worker': 'PostgreSQL',
};

/** The payload of every benchmark run: a sequence number, and how long the handler should take. */
export interface Payload {
  i: number;
  /** Handler duration in ms (0: return at once). It ends early when the system aborts it. */
  ms?: number;
}

export interface HandlerContext {
  id: string;
  data: Payload;
  /** The system's abort signal for this run, where it has one. */
  signal: AbortSignal | null;
}

export type Handler = (ctx: HandlerContext) => Promise<void> | void;

export interface StartWorkerOptions {
  concurrency: number;
  handler: Handler;
  /** Use the system's batched mode (fetch/complete many jobs per round trip), where it has one. */
  batched?: boolean;
}

export interface RunningWorker {
  /** Stop the worker; running handlers are aborted where the system can. */
  stop(): Promise<void>;
}

/** What a cancel call did. */
export interface CancelOutcome {
  /** True if the system accepted the request as a cancel of that run. */
  accepted: boolean;
  /** What the call answered or threw, in words. */
  detail: string;
}

/** Where every adapter keeps its data, so that another process can attach to the same queue. */
export interface AdapterConfig {
  system: SystemName;
  /** Unique per benchmark invocation and repeat: queue names, schemas, file names derive from it. */
  namespace: string;
  /** Folder for SQLite files. */
  dir: string;
}

export interface Adapter {
  readonly system: SystemName;
  readonly backend: Backend;
  /** The settings in force, recorded in the report. */
  settings(): Record<string, unknown>;
  /** How enqueueBulk is done (a bulk API, or concurrent single creates). */
  readonly bulkNote: string;
  /** The batched worker mode in words, or null when the system has none. */
  readonly batchedMode: string | null;
  /** Cancel support: in the worker's own process, and from another client or process. */
  readonly cancelSupport: { inProcess: string | null; crossProcess: string | null };
  /** Connect; with `fresh`, first drop whatever an earlier run left (schema, queue, file). */
  setup(options: { fresh: boolean }): Promise<void>;
  enqueue(data: Payload): Promise<string>;
  enqueueBulk(data: Payload[]): Promise<string[]>;
  /**
   * Put runs in the queue as fast as possible, untimed (the throughput workload's set-up), where
   * that differs from enqueueBulk. The runs must be the same as enqueue would make.
   */
  seed?(data: Payload[]): Promise<void>;
  /**
   * Stop writing the event feed in this queue (Jobdeck on PostgreSQL: the runs' event triggers off),
   * so that the throughput workload measures what the feed costs. Absent where there is no feed.
   */
  withoutEventFeed?(): Promise<void>;
  startWorker(options: StartWorkerOptions): Promise<RunningWorker>;
  /** Cancel through this client (another process's worker runs the handler), as the system allows. */
  cancel(id: string): Promise<CancelOutcome>;
  /** Cancel in the process whose worker runs the handler, where that differs from `cancel`. */
  cancelInProcess?(id: string): Promise<CancelOutcome>;
  /** The run's state in the system's own words. */
  state(id: string): Promise<string>;
  /** Runs not yet finished (queued or active). */
  unfinished(): Promise<number>;
  /** Close connections; with `drop`, remove the data too. */
  teardown(options: { drop: boolean }): Promise<void>;
}
