// The public API of the jobdeck package, named one by one: what an application needs to define
// jobs, run an instance and talk to a server. The engine's parts (worker, scheduler, maintenance,
// services) are reached through a Jobdeck instance (`deck.runs`, `deck.cancels`, `deck.worker`…),
// so they can change without breaking anyone. test/library.test.ts lists this surface and checks
// that every export has a doc comment.

// The instance.
export {
  Jobdeck,
  type JobdeckOptions,
  type WorkerOptions,
  type MaintenanceOptions,
} from './jobdeck.js';

// Jobs and their handlers.
export { defineJob, type JobOptions, type JobDefinition, type Isolation } from './jobs/define.js';
export type { JobContext, RunLogger, ForEachSummary } from './jobs/context.js';
export { ChildRunError, type ChildRun } from './core/children.js';
export type { ScheduleOptions } from './jobs/schedule.js';
export { defineExecJob, type ExecJobOptions } from './jobs/exec.js';
export type { BackoffOptions } from './core/backoff.js';
export type { Duration } from './core/duration.js';

// What the instance's members take and give.
export type {
  CreateRunParams,
  CreateManyItem,
  CreateManyResult,
  RunRefusal,
  ListRunsParams,
  RunListFilter,
  RunStatsView,
  JobView,
  WaitOptions,
} from './runs/service.js';
export type { StatsBucket } from './runs/stats-window.js';
export type { CancelOptions, BulkCancelFilter, BulkCancelReport } from './cancel/service.js';
export type { RunCancelResult, RunStatsBucket, Percentiles } from './store/store.js';
export type { InstanceOptions } from './instances/service.js';
export type {
  InstanceInfo,
  InstanceRole,
  InstanceRun,
  InstanceState,
  InstanceStatus,
} from './core/instance.js';
export type { RunEvents, RunEventName, BusEvent } from './events/bus.js';

// Runs.
export { RUN_STATUSES, TERMINAL_STATUSES, isTerminal, type RunStatus } from './core/status.js';
export { RUN_BATCH_MAX, runAttemptHistory } from './core/run.js';
export type {
  Run,
  RunAttempt,
  RunAttemptEntry,
  AttemptOutcome,
  RunItem,
  RunProgress,
  RunTrigger,
  ItemStatus,
  LogEntry,
  LogLevel,
  StoredLogEntry,
} from './core/run.js';

// Cancellation and errors.
export {
  RunCancelledError,
  isCancellation,
  type CancelMode,
  type CancelRecord,
  type AbortKind,
} from './core/cancellation.js';
export {
  JobdeckError,
  hasErrorCode,
  type ErrorCode,
  type FieldIssue,
  type RunError,
} from './core/errors.js';
export { SYSTEM_PRINCIPAL, type Role, type Principal } from './core/glossary.js';

// Stores.
export type { Store } from './store/store.js';
export { SqliteStore, type SqliteStoreOptions } from './store/sqlite/sqlite-store.js';
export { PostgresStore, type PostgresStoreOptions } from './store/postgres/postgres-store.js';
export { openStore } from './store/open.js';

// Time.
export { TestClock, type Clock } from './core/clock.js';

// Alerts.
export {
  AlertsConfigError,
  loadAlertsFile,
  parseAlertsConfig,
  type AlertEventName,
  type AlertRule,
  type AlertSeverity,
  type AlertsConfig,
  type AlertsConfigIssue,
  type ChannelConfig,
} from './alerts/config.js';
export type { AlertAttemptReport, AlertTestResult, AlertView } from './alerts/service.js';
export { webhookSignature } from './alerts/channels.js';

// The typed HTTP client of a Jobdeck server.
export {
  JobdeckClient,
  ApiError,
  UnreachableError,
  type ClientOptions,
  type ClientEvent,
  type EventFilter,
  type JobInfo,
  type LogInfo,
  type RunInfo,
  type RunDetailInfo,
  type RunChildInfo,
  type WorkerInfo,
  type AlertInfo,
  type AlertTestInfo,
  type StatsInfo,
  type TriggerManyItem,
  type TriggerManyResult,
} from './client/client.js';
