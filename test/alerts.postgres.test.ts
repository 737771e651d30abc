/**
 * Three Jobdeck instances, each with its own connections, on one PostgreSQL schema and one alerts
 * file: a failure anywhere is one alert, one delivery per channel, not three.
 */
import { describe, expect, it } from 'vitest';
import { parseAlertsConfig } from '../src/alerts/config.js';
import { defineJob } from '../src/jobs/define.js';
import { Jobdeck } from '../src/jobdeck.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { EVENT_DEADLINE_MS, pollUntil } from './helpers/poll.js';
import { PG_URL, freshSchema, postgresReachable } from './helpers/postgres.js';
import { Receiver } from './helpers/receiver.js';

const reachable = await postgresReachable();
const defer = cleanupAfterEach();

const failing = defineJob({
  name: 'billing.charge',
  maxAttempts: 1,
  run: () => {
    throw new Error('card declined');
  },
});

describe.skipIf(!reachable)('alerts across instances (PostgreSQL)', () => {
  it('three instances, one failure: one webhook and one Slack delivery, not three', async () => {
    const hook = await Receiver.start();
    const slack = await Receiver.start();
    defer(() => Promise.all([hook.close(), slack.close()]));
    const config = parseAlertsConfig(
      `channels:
  ops: { type: webhook, url: "${hook.url('/hook')}", secret: "s" }
  team: { type: slack, url: "${slack.url('/slack')}" }
rules:
  - { name: failures, on: [run.failed], cooldown: 0, channels: [ops, team] }
`,
      'alerts.yaml',
      {},
    );
    const schema = freshSchema();
    // Registered first, so it runs last: after every instance has stopped.
    defer(async () => {
      const cleaner = new PostgresStore({ connectionString: PG_URL, schema, notify: false });
      await cleaner.dropSchema();
      await cleaner.close();
    });
    const decks: Jobdeck[] = [];
    for (let i = 0; i < 3; i++) {
      const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 4 });
      const deck = new Jobdeck({
        store,
        jobs: [failing],
        worker: { pollMs: 50, heartbeatMs: 200, leaseMs: 3000 },
        maintenance: { intervalMs: 100 },
        alerts: { config, deliveryPollMs: 100 },
      });
      decks.push(deck);
      defer(async () => {
        await deck.close({ graceMs: 1000 });
      });
    }
    await Promise.all(decks.map((deck) => deck.start()));

    const { run } = await decks[0]!.runs.create({ job: 'billing.charge' });
    await hook.waitFor(1);
    await slack.waitFor(1);
    // Every instance has read past the failure and has nothing left to send.
    const { events } = await decks[0]!.store.eventList({ afterSeq: 0, limit: 1000 });
    const finished = events.find((e) => e.name === 'run.finished' && e.runId === run.id)!;
    await pollUntil(
      () => decks.every((deck) => deck.alerts.seenSeq >= finished.seq && deck.alerts.idle),
      { timeoutMs: EVENT_DEADLINE_MS, what: 'every instance to have considered the failure' },
    );
    const alerts = await decks[1]!.alerts.list({ limit: 10 });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.deliveries.map((d) => [d.channel, d.status, d.attempts.length])).toEqual([
      ['ops', 'delivered', 1],
      ['team', 'delivered', 1],
    ]);
    expect(hook.requests).toHaveLength(1);
    expect(slack.requests).toHaveLength(1);
    expect(JSON.parse(hook.requests[0]!.body).run.id).toBe(run.id);
  });
});
