import { createHmac, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseAlertsConfig } from '../../src/alerts/config.js';
import { TestClock } from '../../src/core/clock.js';
import { defineJob } from '../../src/jobs/define.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';
import { deferred } from '../helpers/deck.js';
import { EVENT_DEADLINE_MS, pollUntil } from '../helpers/poll.js';
import { Receiver, type Received } from '../helpers/receiver.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';

const SECRETS = { HOOK_SECRET: 'hook-secret-0123456789', TG_TOKEN: '123456:telegram-token-abc' };
const PUBLIC_URL = 'https://jobdeck.example';

const failing = defineJob({
  name: 'billing.invoice',
  input: z.object({ n: z.number() }),
  maxAttempts: 1,
  run: (_ctx, input) => {
    throw new Error(`invoice ${input.n} bounced`);
  },
});

const defer = cleanupAfterEach();
const cleanups = { add: defer };

async function receivers() {
  const hook = await Receiver.start();
  const slack = await Receiver.start();
  const telegram = await Receiver.start();
  cleanups.add(() => Promise.all([hook.close(), slack.close(), telegram.close()]));
  return { hook, slack, telegram };
}

/** The alerts file of these tests, pointing at the local receivers. */
function alertsFile(
  r: Awaited<ReturnType<typeof receivers>>,
  rules: string,
): ReturnType<typeof parseAlertsConfig> {
  return parseAlertsConfig(
    `channels:
  ops: { type: webhook, url: "${r.hook.url('/hook')}", secret: "\${HOOK_SECRET}" }
  team: { type: slack, url: "${r.slack.url('/services/T000/B000/XXXX')}" }
  phone: { type: telegram, botToken: "\${TG_TOKEN}", chatId: "-1001234", apiBase: "${r.telegram.url()}" }
rules:
${rules}`,
    'alerts.yaml',
    SECRETS,
  );
}

/** The webhook signature a receiver computes: HMAC-SHA256 of `<timestamp>.<body>`. */
function signatureValid(request: Received, secret: string): boolean {
  const timestamp = String(request.headers['x-jobdeck-timestamp']);
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${request.body}`).digest('hex')}`;
  const given = String(request.headers['x-jobdeck-signature']);
  return (
    given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected))
  );
}

async function alertsOf(server: TestServer) {
  const answer = await server.request('GET', '/api/alerts', { token: TEST_TOKENS.viewer });
  expect(answer.status).toBe(200);
  return answer.body.alerts as {
    id: string;
    rule: string;
    event: string;
    runId: string;
    state: string;
    link: string;
    deliveries: {
      channel: string;
      status: string;
      attempts: { ok: boolean; error?: string; status?: number }[];
    }[];
  }[];
}

describe('alerts', () => {
  it('a failing run: one signed webhook POST and one Slack POST; the cooldown holds the next, then lets one through', async () => {
    const r = await receivers();
    const clock = new TestClock(Date.now());
    const server = await startTestServer([failing], {
      deck: {
        publicUrl: PUBLIC_URL,
        alerts: {
          clock,
          deliveryPollMs: 100,
          config: alertsFile(
            r,
            `  - name: failures
    on: [run.failed, run.partial]
    job: "billing.*"
    severity: critical
    cooldown: 10m
    channels: [ops, team]
    message: "{{job}} {{status}}: {{error.message}} ({{link}})"`,
          ),
        },
      },
    });
    cleanups.add(() => server.close());

    const fail = async (n: number) => {
      const { run } = await server.deck.runs.create({ job: 'billing.invoice', input: { n } });
      const failedAt = Date.now();
      await pollUntil(async () => (await server.deck.runs.get(run.id)).status === 'failed', {
        timeoutMs: EVENT_DEADLINE_MS,
      });
      return { id: run.id, failedAt };
    };

    const first = await fail(1);
    const [hook] = await r.hook.waitFor(1);
    const [slack] = await r.slack.waitFor(1);
    // Within 2 s on an idle machine; a loaded one may take longer, so the test only reports it.
    console.log(
      `alert latency after the failure: webhook ${hook!.at - first.failedAt} ms, slack ${slack!.at - first.failedAt} ms`,
    );
    const link = `${PUBLIC_URL}/dashboard/runs/${first.id}`;
    expect(hook!.method).toBe('POST');
    expect(signatureValid(hook!, SECRETS.HOOK_SECRET)).toBe(true);
    expect(signatureValid(hook!, 'another secret')).toBe(false);
    expect(Math.abs(Number(hook!.headers['x-jobdeck-timestamp']) * 1000 - Date.now())).toBeLessThan(
      5 * 60_000,
    );
    const body = JSON.parse(hook!.body);
    expect(body).toMatchObject({
      event: { name: 'run.failed' },
      rule: { name: 'failures', severity: 'critical' },
      job: 'billing.invoice',
      run: { id: first.id, status: 'failed', error: { message: 'invoice 1 bounced' } },
      link,
      message: `billing.invoice failed: invoice 1 bounced (${link})`,
    });
    expect(body.run.input).toBeUndefined();
    expect(hook!.headers['x-jobdeck-alert']).toBe(body.id);
    expect(slack!.path).toBe('/services/T000/B000/XXXX');
    const text = JSON.parse(slack!.body).text as string;
    expect(text).toContain('[critical] failures: billing.invoice failed: invoice 1 bounced');
    expect(text).toContain(link);

    // A second failure within the cooldown is recorded, suppressed, and sends nothing.
    const second = await fail(2);
    const suppressed = await pollUntil(async () =>
      (await alertsOf(server)).find((a) => a.runId === second.id),
    );
    expect(suppressed).toMatchObject({ state: 'suppressed', deliveries: [] });
    expect([r.hook.requests.length, r.slack.requests.length]).toEqual([1, 1]);

    // After the cooldown, one more.
    clock.advance(10 * 60_000);
    const third = await fail(3);
    await r.hook.waitFor(2);
    await r.slack.waitFor(2);
    expect(JSON.parse(r.hook.requests[1]!.body).run.id).toBe(third.id);
    const delivered = await pollUntil(async () => {
      const alert = (await alertsOf(server)).find((a) => a.runId === third.id);
      return alert?.state === 'delivered' ? alert : undefined;
    });
    expect(delivered.deliveries.map((d) => [d.channel, d.status, d.attempts.length])).toEqual([
      ['ops', 'delivered', 1],
      ['team', 'delivered', 1],
    ]);
    expect([r.hook.requests.length, r.slack.requests.length, r.telegram.requests.length]).toEqual([
      2, 2, 0,
    ]);
    // No secret in an API answer or in the logs.
    const answers = JSON.stringify(await alertsOf(server));
    for (const secret of [...Object.values(SECRETS), 'T000/B000/XXXX']) {
      expect(answers).not.toContain(secret);
      expect(server.output()).not.toContain(secret);
    }
  });

  it('a run past its stuckAfter: one run.stuck alert, delivered once the receiver is back after 10 s down, attempts recorded', async () => {
    const r = await receivers();
    const release = deferred();
    const slow = defineJob({
      name: 'reports.nightly',
      stuckAfter: 300,
      run: async (ctx) => {
        await Promise.race([
          release.promise,
          new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)),
        ]);
      },
    });
    const server = await startTestServer([slow], {
      deck: {
        publicUrl: PUBLIC_URL,
        maintenance: { intervalMs: 50, stuckCheckMs: 100 },
        alerts: {
          deliveryPollMs: 100,
          backoff: { base: 500, max: 2000, jitter: 0 },
          config: alertsFile(
            r,
            `  - name: stuck
    on: [run.stuck]
    cooldown: 0
    channels: [ops]`,
          ),
        },
      },
    });
    cleanups.add(async () => {
      release.resolve();
      await server.close();
    });
    await r.hook.down();
    const { run } = await server.deck.runs.create({ job: 'reports.nightly' });

    // Failed attempts are recorded while the receiver is down.
    const failing = await pollUntil(
      async () => {
        const alert = (await alertsOf(server)).find((a) => a.runId === run.id);
        return alert && alert.deliveries[0]!.attempts.length >= 1 ? alert : undefined;
      },
      { timeoutMs: EVENT_DEADLINE_MS },
    );
    expect(failing).toMatchObject({ rule: 'stuck', event: 'run.stuck', state: 'pending' });
    expect(failing.deliveries[0]!.attempts[0]).toMatchObject({ ok: false });
    const stuckRun = (
      await server.request('GET', `/api/runs/${run.id}`, { token: TEST_TOKENS.viewer })
    ).body.run;
    expect(stuckRun.status).toBe('running');
    expect(stuckRun.stuckAt).not.toBeNull();

    const downSince = Date.now();
    await pollUntil(() => Date.now() - downSince >= 10_000, { timeoutMs: 30_000, intervalMs: 100 });
    await r.hook.up();
    const [request] = await r.hook.waitFor(1);
    expect(signatureValid(request!, SECRETS.HOOK_SECRET)).toBe(true);
    expect(JSON.parse(request!.body)).toMatchObject({
      event: { name: 'run.stuck' },
      run: { id: run.id, status: 'running' },
      link: `${PUBLIC_URL}/dashboard/runs/${run.id}`,
    });
    const delivered = await pollUntil(async () => {
      const alert = (await alertsOf(server)).find((a) => a.runId === run.id);
      return alert?.state === 'delivered' ? alert : undefined;
    });
    const attempts = delivered.deliveries[0]!.attempts;
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts.slice(0, -1).every((a) => !a.ok && a.error)).toBe(true);
    expect(attempts.at(-1)).toMatchObject({ ok: true, status: 200 });
    // One run.stuck for the attempt, whatever the number of checks since.
    expect((await alertsOf(server)).filter((a) => a.event === 'run.stuck')).toHaveLength(1);
    expect(r.hook.requests).toHaveLength(1);
    // /metrics counts the stuck run and the message the channel took.
    const metrics = (await server.request('GET', '/metrics', { token: TEST_TOKENS.viewer }))
      .body as string;
    expect(metrics).toContain('jobdeck_runs_stuck_total{job="reports.nightly"} 1');
    expect(metrics).toContain('jobdeck_alerts_sent_total{channel="ops"} 1');
    expect(metrics).toContain('jobdeck_alerts_failed_total{channel="ops"} 0');
  });

  it('a receiver that never answers holds up no other channel: the next alert is sent while it hangs', async () => {
    const r = await receivers();
    r.hook.silent = true;
    const quick = defineJob({
      name: 'mail.digest',
      maxAttempts: 1,
      run: () => {
        throw new Error('digest bounced');
      },
    });
    const server = await startTestServer([failing, quick], {
      deck: {
        alerts: {
          config: alertsFile(
            r,
            `  - name: billing
    on: [run.failed]
    job: "billing.*"
    channels: [ops]
  - name: mail
    on: [run.failed]
    job: "mail.*"
    channels: [team]`,
          ),
          // Far past the test's deadline: a claim loop that waited for this send would never reach Slack.
          timeoutMs: 120_000,
        },
      },
    });
    cleanups.add(() => server.close());

    await server.deck.runs.create({ job: 'billing.invoice', input: { n: 1 } });
    await r.hook.waitFor(1);
    await server.deck.runs.create({ job: 'mail.digest', input: {} });
    const [sent] = await r.slack.waitFor(1);
    expect(sent!.body).toContain('mail.digest');
    const alerts = await alertsOf(server);
    const hanging = alerts.find((alert) => alert.rule === 'billing')!;
    expect(hanging.deliveries).toMatchObject([{ channel: 'ops', status: 'pending', attempts: [] }]);
    expect(r.hook.requests).toHaveLength(1);
  });

  it('POST /api/alerts/test sends through a named channel (admin); unknown channels are 404', async () => {
    const r = await receivers();
    const server = await startTestServer([], {
      deck: {
        alerts: {
          config: alertsFile(
            r,
            `  - name: any
    on: [run.failed]
    channels: [phone]`,
          ),
        },
      },
    });
    cleanups.add(() => server.close());
    const test = (channel: string, token: string = TEST_TOKENS.admin) =>
      server.request('POST', '/api/alerts/test', { token, body: { channel } });

    const answer = await test('phone');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ channel: 'phone', type: 'telegram', delivered: true });
    const [sent] = await r.telegram.waitFor(1);
    expect(sent!.path).toBe(`/bot${SECRETS.TG_TOKEN}/sendMessage`);
    expect(JSON.parse(sent!.body)).toMatchObject({ chat_id: '-1001234' });
    expect(JSON.parse(sent!.body).text).toContain('Test message');

    r.telegram.reply = { status: 401, body: `{"ok":false,"description":"Unauthorized"}` };
    const refused = await test('phone');
    expect(refused.body).toMatchObject({ delivered: false, status: 401 });
    expect(JSON.stringify(refused.body)).not.toContain(SECRETS.TG_TOKEN);

    expect((await test('nope')).status).toBe(404);
    expect((await test('nope')).body.error).toBe('NOT_FOUND');
    expect((await test('phone', TEST_TOKENS.alice)).status).toBe(403);
    expect(
      (
        await server.request('POST', '/api/alerts/test', {
          token: TEST_TOKENS.admin,
          body: { channel: 'phone', extra: 1 },
        })
      ).status,
    ).toBe(400);
  });

  it('run.retrying fires from the n-th failed attempt on; run.cancelled on a cancel; queue.backlog once per oldest waiting run', async () => {
    const r = await receivers();
    const flaky = defineJob({
      name: 'sync.flaky',
      maxAttempts: 3,
      backoff: { base: 10, max: 10 },
      run: (ctx) => {
        throw new Error(`attempt ${ctx.run.attempt} failed`);
      },
    });
    const gate = deferred();
    const held = defineJob({
      name: 'sync.held',
      run: async (ctx) => {
        await Promise.race([
          gate.promise,
          new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)),
        ]);
      },
    });
    // One at a time: while the first run holds the slot, the second waits.
    const queued = defineJob({
      name: 'sync.queued',
      concurrency: 1,
      run: async (ctx) => {
        await Promise.race([
          gate.promise,
          new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)),
        ]);
      },
    });
    const server = await startTestServer([flaky, held, queued], {
      deck: {
        alerts: {
          deliveryPollMs: 100,
          config: alertsFile(
            r,
            `  - name: flaky
    on: [run.retrying]
    afterAttempt: 2
    cooldown: 0
    channels: [team]
    message: "{{job}} attempt {{attempt}}/{{maxAttempts}}: {{error.message}}"
  - name: stopped
    on: [run.cancelled]
    job: "sync.held"
    cooldown: 0
    channels: [team]
  - name: backlog
    on: [queue.backlog]
    category: default
    backlogAfter: 100ms
    cooldown: 0
    channels: [phone]
    message: "{{job}} waits since {{since}} ({{waiting}})"`,
          ),
        },
      },
    });
    cleanups.add(async () => {
      gate.resolve();
      await server.close();
    });

    const { run } = await server.deck.runs.create({ job: 'sync.flaky' });
    await pollUntil(async () => (await server.deck.runs.get(run.id)).status === 'failed', {
      timeoutMs: EVENT_DEADLINE_MS,
    });
    // Attempts 1 and 2 were retried; only the second is at or past afterAttempt. The third failure
    // ends the run: a run.failed, which no rule here names.
    const [retrying] = await r.slack.waitFor(1);
    expect(JSON.parse(retrying!.body).text).toContain('sync.flaky attempt 2/3: attempt 2 failed');

    const { run: stopped } = await server.deck.runs.create({ job: 'sync.held' });
    await pollUntil(async () => (await server.deck.runs.get(stopped.id)).status === 'running', {
      timeoutMs: EVENT_DEADLINE_MS,
    });
    await server.deck.cancels.cancel(
      stopped.id,
      { mode: 'force', reason: 'enough' },
      { name: 'root', role: 'admin' },
    );
    const [, cancelled] = await r.slack.waitFor(2);
    expect(JSON.parse(cancelled!.body).text).toContain('sync.held cancelled');

    const { run: first } = await server.deck.runs.create({ job: 'sync.queued' });
    await pollUntil(async () => (await server.deck.runs.get(first.id)).status === 'running', {
      timeoutMs: EVENT_DEADLINE_MS,
    });
    const { run: waiting } = await server.deck.runs.create({ job: 'sync.queued' });
    const [backlog] = await pollUntil(async () => {
      await server.deck.alerts.checkBacklogOnce();
      return r.telegram.requests.length > 0 ? r.telegram.requests : undefined;
    });
    expect(JSON.parse(backlog!.body).text).toContain('sync.queued waits since');
    await server.deck.alerts.checkBacklogOnce();
    const alerts = await alertsOf(server);
    expect(alerts.filter((a) => a.event === 'queue.backlog').map((a) => a.runId)).toEqual([
      waiting.id,
    ]);
    expect(alerts.filter((a) => a.event === 'run.retrying')).toHaveLength(1);
    expect(r.slack.requests).toHaveLength(2);
  });
});
