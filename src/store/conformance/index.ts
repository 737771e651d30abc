import { describe } from 'vitest';
import { describeAttempts } from './attempts.js';
import { describeAlerts } from './alerts.js';
import { describeCancel } from './cancel.js';
import { describeChildren } from './children.js';
import { describeClaim } from './claim.js';
import { describeEvents } from './events.js';
import { describeFencing } from './fencing.js';
import type { MakeStore, MakeStorePair } from './fixture.js';
import { describeInsertMany } from './insert-many.js';
import { describeInstances } from './instances.js';
import { describeItems } from './items.js';
import { describeJobs } from './jobs.js';
import { describeLeases } from './leases.js';
import { describeList } from './list.js';
import { describeLogs } from './logs.js';
import { describeMaintenance } from './maintenance.js';
import { describePause } from './pause.js';
import { describeRuns } from './runs.js';
import { describeScheduleSlots } from './schedule-slots.js';
import { describeStats } from './stats.js';
import { describeSteps } from './steps.js';

export type { MakeStore, MakeStorePair, StoreFixture } from './fixture.js';

/**
 * The one conformance suite every `Store` backend runs (SQLite, PostgreSQL, …). Each test gets a
 * fresh store from `makeStore` — migrated, over its own empty database — and cleans it up after.
 * Times are explicit `now` values counted from a fixed instant; nothing sleeps.
 *
 * `makeStorePair`, when given, opens two store instances over one shared database; the tests that
 * need two application instances (one run per schedule slot, disjoint concurrent claims, the
 * concurrency cap across instances) are registered only then. Every backend that may be shared by
 * several instances should pass it.
 */
export function describeStoreConformance(
  name: string,
  makeStore: MakeStore,
  makeStorePair?: MakeStorePair,
): void {
  describe(`Store conformance: ${name}`, () => {
    const ctx = { makeStore, makeStorePair };
    describeRuns(ctx);
    describeInsertMany(ctx);
    describeList(ctx);
    describeClaim(ctx);
    describeLeases(ctx);
    describeFencing(ctx);
    describeAttempts(ctx);
    describeCancel(ctx);
    describePause(ctx);
    describeChildren(ctx);
    describeScheduleSlots(ctx);
    describeMaintenance(ctx);
    describeLogs(ctx);
    describeItems(ctx);
    describeSteps(ctx);
    describeJobs(ctx);
    describeEvents(ctx);
    describeInstances(ctx);
    describeStats(ctx);
    describeAlerts(ctx);
  });
}
