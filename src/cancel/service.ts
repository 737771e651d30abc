import { CANCEL_MODES, type CancelMode } from '../core/cancellation.js';
import type { Clock } from '../core/clock.js';
import { JobdeckError, hasErrorCode, isErrorCode } from '../core/errors.js';
import { SYSTEM_PRINCIPAL, type Principal } from '../core/glossary.js';
import type { Run } from '../core/run.js';
import { UNFINISHED_STATUSES, isTerminal, type RunStatus } from '../core/status.js';
import type { EventBus } from '../events/bus.js';
import { requireOwnerOrAdmin, requireRole } from '../runs/service.js';
import type { RunCancelResult, Store } from '../store/store.js';

/** How to cancel: `graceful` (default: the current step finishes) or `force`, and why. */
export interface CancelOptions {
  mode?: CancelMode;
  /** Shown with the run and in its logs; default none. */
  reason?: string | null;
}

/** Which runs a bulk cancel takes: explicit ids, or a job and/or statuses. */
export interface BulkCancelFilter {
  ids?: string[];
  job?: string;
  status?: RunStatus[];
}

/** What a bulk cancel did: one line per run, refusals included. */
export interface BulkCancelReport {
  /** True when the filter matched more runs than one bulk cancel takes; ask again for the rest. */
  truncated: boolean;
  results: {
    id: string;
    outcome: RunCancelResult['action'] | 'error';
    status?: RunStatus;
    error?: string;
    /** Why it was refused, in the words of a single cancel's answer. */
    message?: string;
  }[];
}

/** The most runs one bulk cancel touches. */
export const BULK_CANCEL_LIMIT = 1000;

/**
 * Cancellation as a service: the owner-or-admin rule, the table applied by the store, events for
 * every change. Delivery to the handler happens through the bus in this process, and through the
 * store (heartbeat, poll, push) everywhere else.
 */
export class CancelService {
  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly clock: Clock,
  ) {}

  /**
   * Cancel one run as the cancellation table says for its status and `mode` (default graceful).
   * Without a principal the system principal cancels (an embedded caller is trusted, as with
   * `runs.create`); the HTTP API and chat commands always pass the caller's, who must own the run
   * or be an admin. Rejects with `RUN_FINISHED` (the run in `data`) when it has already ended.
   * The run's live child runs (`ctx.spawn`) are cancelled with it, in the same mode, and theirs.
   */
  async cancel(
    id: string,
    options: CancelOptions = {},
    principal: Principal = SYSTEM_PRINCIPAL,
  ): Promise<RunCancelResult> {
    const mode = options.mode ?? 'graceful';
    if (!CANCEL_MODES.includes(mode))
      throw new JobdeckError('INVALID_INPUT', `mode must be graceful or force`);
    const current = await this.store.runGet({ id });
    if (!current) throw new JobdeckError('RUN_NOT_FOUND', `No run has id ${id}.`);
    requireOwnerOrAdmin(principal, current, 'cancel');
    const result = await this.store.runCancel({
      id,
      mode,
      reason: options.reason ?? null,
      requestedBy: principal.name,
      now: this.clock.now(),
    });
    if (result.action === 'finished') {
      throw new JobdeckError('RUN_FINISHED', `Run ${id} has already ended: ${result.run.status}.`, {
        data: result.run,
      });
    }
    this.announce(result.run, result.action);
    await this.cancelDescendants(id, mode, principal.name);
    return result;
  }

  /**
   * Cancel the live children of a cancelled run, in its mode, then theirs. Each is its own
   * statement: a child ending meanwhile locks its row, then its parent's, never the other way.
   * What an instance stopping midway leaves, {@link cancelUncancelledChildren} finishes.
   */
  private async cancelDescendants(
    id: string,
    mode: CancelMode,
    requestedBy: string,
    why: (parentId: string) => string = cancelledParent,
  ): Promise<void> {
    const parents = [id];
    for (let parent = parents.shift(); parent !== undefined; parent = parents.shift()) {
      let cursor: string | null = null;
      do {
        const page = await this.store.runList({
          parentId: parent,
          status: [...UNFINISHED_STATUSES],
          limit: 500,
          cursor,
        });
        for (const child of page.runs) {
          // Below the first level, each child is cancelled because its parent was.
          const reason = parent === id ? why(parent) : cancelledParent(parent);
          await this.cancelChild(child.id, mode, requestedBy, reason);
          parents.push(child.id);
        }
        cursor = page.nextCursor;
      } while (cursor);
    }
  }

  private async cancelChild(
    id: string,
    mode: CancelMode,
    requestedBy: string,
    reason: string,
  ): Promise<void> {
    const result = await this.store
      .runCancel({ id, mode, reason, requestedBy, now: this.clock.now() })
      // Ended and deleted since it was listed: nothing left to cancel.
      .catch((err: unknown) => {
        if (hasErrorCode(err, 'RUN_NOT_FOUND')) return null;
        throw err;
      });
    if (result) this.announce(result.run, result.action);
  }

  /**
   * A run that failed leaves no child running on: its unfinished children (and theirs) are
   * cancelled gracefully, by the system. One that completed leaves them be.
   */
  async cancelChildrenOfFailed(run: Run): Promise<void> {
    if (run.status !== 'failed') return;
    await this.cancelDescendants(run.id, 'graceful', SYSTEM_PRINCIPAL.name, failedParent);
  }

  /**
   * Finish the cascades no instance finished: the unfinished children of runs asked to cancel, or
   * failed, that their cascade missed (an instance stopped midway, or a parent still stopping
   * spawned after it) are cancelled as {@link cancel} or {@link cancelChildrenOfFailed} would have,
   * and their children with them. Maintenance calls this; how many children were cancelled.
   */
  async cancelUncancelledChildren(): Promise<number> {
    let cancelled = 0;
    // Pages of 500, a bounded number per call: the next pass takes what is left.
    for (let page = 0; page < 20; page++) {
      const children = await this.store.runListUncancelledChildren({ limit: 500 });
      for (const child of children) {
        const why = child.parentStatus === 'failed' ? failedParent : cancelledParent;
        await this.cancelChild(child.id, child.mode, child.requestedBy, why(child.parentId));
        await this.cancelDescendants(child.id, child.mode, child.requestedBy);
      }
      cancelled += children.length;
      if (children.length < 500) break;
    }
    return cancelled;
  }

  /**
   * Cancel many runs; each gets its own line in the report, refusals included. Without a
   * principal the system principal cancels, as with {@link cancel}.
   */
  async cancelMany(
    filter: BulkCancelFilter,
    options: CancelOptions = {},
    principal: Principal = SYSTEM_PRINCIPAL,
  ): Promise<BulkCancelReport> {
    requireRole(principal, 'operator');
    const ids = filter.ids ?? (await this.matching(filter));
    const truncated = filter.ids === undefined && ids.length > BULK_CANCEL_LIMIT;
    if (truncated) ids.length = BULK_CANCEL_LIMIT;
    if (ids.length > BULK_CANCEL_LIMIT) {
      throw new JobdeckError(
        'INVALID_INPUT',
        `A bulk cancel takes at most ${BULK_CANCEL_LIMIT} runs.`,
        {
          details: [{ path: ['ids'], message: `at most ${BULK_CANCEL_LIMIT}` }],
        },
      );
    }
    const results: BulkCancelReport['results'] = [];
    for (const id of ids) {
      try {
        const { run, action } = await this.cancel(id, options, principal);
        results.push({ id, outcome: action, status: run.status });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (!isErrorCode(code)) throw err;
        const run = hasErrorCode(err, 'RUN_FINISHED') ? ((err as JobdeckError).data as Run) : null;
        results.push({
          id,
          outcome: 'error',
          error: code,
          message: (err as Error).message,
          ...(run ? { status: run.status } : {}),
        });
      }
    }
    return { truncated, results };
  }

  private async matching(filter: BulkCancelFilter): Promise<string[]> {
    if (!filter.job && !filter.status) {
      throw new JobdeckError('INVALID_INPUT', 'A bulk cancel needs ids, a job or a status.', {
        details: [{ path: ['ids'], message: 'give ids, job or status' }],
      });
    }
    const status = filter.status ?? [...UNFINISHED_STATUSES];
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.store.runList({
        status,
        ...(filter.job ? { job: filter.job } : {}),
        limit: 500,
        cursor,
      });
      ids.push(...page.runs.map((r) => r.id));
      cursor = page.nextCursor;
    } while (cursor && ids.length <= BULK_CANCEL_LIMIT);
    return ids;
  }

  private announce(run: Run, action: RunCancelResult['action']): void {
    if (action === 'request') this.bus.emit('run.cancelling', { run });
    else if ((action === 'cancel-now' || action === 'force') && isTerminal(run.status))
      this.bus.emit('run.finished', { run });
  }
}

const cancelledParent = (parentId: string) => `parent run ${parentId} was cancelled`;
const failedParent = (parentId: string) => `parent run ${parentId} failed`;
