import { describe } from 'vitest';
import { describeCancelDelivery } from './cancel-delivery.js';
import { describeCaps } from './caps.js';
import { describeChildren } from './children.js';
import { describeCompletions } from './completions.js';
import type { MakeRuntimeDatabase } from './fixture.js';
import { describeLeaseLoss } from './lease-loss.js';
import { describePause } from './pause.js';
import { describePrefetch } from './prefetch.js';
import { describeRateLimits } from './rate-limits.js';
import { describeSchedules } from './schedules.js';
import { describeShutdown } from './shutdown.js';
import { describeThreads } from './threads.js';

export type { MakeRuntimeDatabase, RowLock, RuntimeDatabase } from './fixture.js';

/**
 * The runtime's conformance suite: the same scenarios — claim, heartbeats, cancel delivery, pause and resume,
 * child runs, lease loss, shutdown, completion batches, runs claimed ahead (prefetch), caps under force cancel, rate limits, schedule catch-up, thread reuse —
 * run by real instances (worker, API-only, scheduler-only) over each backend, with the store's
 * push on where it has one. Each test gets a fresh database from `makeDatabase`.
 *
 * To add an area: write `describe<Area>(ctx)` in a file of its own here (use `useInstances` from
 * fixture.ts for instances that are closed after each test) and call it below.
 */
export function describeRuntimeConformance(
  name: string,
  makeDatabase: MakeRuntimeDatabase,
  features: { rowLocks: boolean },
): void {
  describe(`Runtime conformance: ${name}`, () => {
    const ctx = { makeDatabase, ...features };
    describeCancelDelivery(ctx);
    describePause(ctx);
    describeChildren(ctx);
    describeLeaseLoss(ctx);
    describeShutdown(ctx);
    describeCompletions(ctx);
    describePrefetch(ctx);
    describeCaps(ctx);
    describeRateLimits(ctx);
    describeSchedules(ctx);
    describeThreads(ctx);
  });
}
