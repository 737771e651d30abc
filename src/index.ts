// The public API of the jobdeck package, named one by one.
export { Jobdeck, type JobdeckOptions } from './jobdeck.js';
export { defineJob, type JobOptions, type JobDefinition, type Isolation } from './jobs/define.js';
export type { JobContext, RunLogger, ForEachSummary } from './jobs/context.js';
export type { ScheduleOptions } from './jobs/schedule.js';
export { JobRegistry } from './jobs/registry.js';
export { defineExecJob, type ExecJobOptions } from './jobs/exec.js';
export {
  RunService,
  CREATE_MANY_CHUNK,
  type CreateRunParams,
  type CreateManyItem,
  type CreateManyResult,
  type RunRefusal,
  type ListRunsParams,
  type RunListFilter,
  type RunStatsView,
  type JobView,
} from './runs/service.js';
export { STATS_BUCKETS, type StatsBucket } from './runs/stats-window.js';
export {
  CancelService,
  type CancelOptions,
  type BulkCancelFilter,
  type BulkCancelReport,
} from './cancel/service.js';
export { InstanceService, type InstanceOptions } from './instances/service.js';
export {
  INSTANCE_ROLES,
  INSTANCE_STATES,
  type InstanceInfo,
  type InstanceRole,
  type InstanceRun,
  type InstanceState,
  type InstanceStatus,
} from './core/instance.js';
export { Worker, type WorkerOptions } from './runtime/worker.js';
export { Scheduler } from './scheduler/scheduler.js';
export { Maintenance } from './maintenance/maintenance.js';
export type { DeckCounters } from './metrics/counters.js';
export {
  ALERT_EVENTS,
  ALERT_SEVERITIES,
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
export {
  AlertService,
  type AlertAttemptReport,
  type AlertTestResult,
  type AlertView,
} from './alerts/service.js';
export { webhookSignature } from './alerts/channels.js';
export {
  EventBus,
  RUN_EVENT_NAMES,
  type RunEvents,
  type RunEventName,
  type BusEvent,
} from './events/bus.js';
export type {
  Store,
  StoreCapabilities,
  AttemptRef,
  RunStatsBucket,
  Percentiles,
} from './store/store.js';
export { SqliteStore, type SqliteStoreOptions } from './store/sqlite/sqlite-store.js';
export { PostgresStore, type PostgresStoreOptions } from './store/postgres/postgres-store.js';
export { openStore, DEFAULT_DB } from './store/open.js';
export {
  RUN_STATUSES,
  TERMINAL_STATUSES,
  TRANSITIONS,
  canTransition,
  isTerminal,
  type RunStatus,
} from './core/status.js';
export {
  CANCEL_TABLE,
  CANCEL_MODES,
  RunCancelledError,
  isCancellation,
  type CancelMode,
  type CancelRecord,
  type AbortKind,
} from './core/cancellation.js';
export {
  ERROR_CODES,
  JobdeckError,
  hasErrorCode,
  type ErrorCode,
  type FieldIssue,
  type RunError,
} from './core/errors.js';
export { ROLES, SYSTEM_PRINCIPAL, type Role, type Principal } from './core/glossary.js';
export { systemClock, TestClock, type Clock } from './core/clock.js';
export { backoffDelay, type BackoffOptions } from './core/backoff.js';
export type { Duration } from './core/duration.js';
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
