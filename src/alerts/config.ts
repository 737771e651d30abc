import { readFileSync } from 'node:fs';
import { LineCounter, isMap, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { chatopsConfigSchema, type ChatopsConfig } from '../chatops/config.js';
import { TELEGRAM_API_BASE, fieldName, httpUrl, substituteEnv } from '../core/config-values.js';
import { toMs } from '../core/duration.js';
import { templateProblems } from './template.js';

/**
 * The alerts file: channels (where to send), rules (what to send when), and a `chatops:`
 * section read by ChatOps. Parsed from YAML, `${ENV_VAR}` replaced, then validated; every problem
 * is reported with its line, column and field.
 */

/** What a rule can fire on. */
export const ALERT_EVENTS = [
  'run.failed',
  'run.partial',
  'run.cancelled',
  'run.stuck',
  'run.retrying',
  'queue.backlog',
] as const;
/** What an alert rule fires on (`on:` in the alerts file). */
export type AlertEventName = (typeof ALERT_EVENTS)[number];

export const ALERT_SEVERITIES = ['info', 'warning', 'error', 'critical'] as const;
/** How serious an alert is: `info`, `warning`, `error` or `critical`. */
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** A rule's default cooldown: a storm of failures of one job sends one alert per 5 minutes. */
export const DEFAULT_COOLDOWN = '5m';

export interface WebhookChannel {
  type: 'webhook';
  url: string;
  /** Signs each body (HMAC-SHA256); never logged nor shown. */
  secret: string;
}

export interface SlackChannel {
  type: 'slack';
  /** The incoming-webhook URL; a secret in itself. */
  url: string;
}

export interface TelegramChannel {
  type: 'telegram';
  botToken: string;
  chatId: string;
  /** The Bot API's base URL. Default https://api.telegram.org. */
  apiBase: string;
}

/** Where alerts go: a signed webhook, a Slack incoming webhook or a Telegram chat. */
export type ChannelConfig = WebhookChannel | SlackChannel | TelegramChannel;
export type ChannelType = ChannelConfig['type'];

/** One rule of the alerts file: what it fires on, for which jobs, where it sends, how often. */
export interface AlertRule {
  name: string;
  on: AlertEventName[];
  /** Only jobs whose name matches this glob (`*`, `?`). */
  job: string | null;
  /** Only jobs whose category matches this glob. */
  category: string | null;
  severity: AlertSeverity;
  /** Quiet time per rule and job once it sends. */
  cooldownMs: number;
  channels: string[];
  /** The message template; null: a default per event. */
  message: string | null;
  /** run.retrying: only once this many attempts have failed. */
  afterAttempt: number | null;
  /** queue.backlog: when a job's oldest waiting run has waited this long. */
  backlogAfterMs: number | null;
}

/** The alerts file as parsed: its rules, channels and chat users (`loadAlertsFile`, `parseAlertsConfig`). */
export interface AlertsConfig {
  /** Where it was read from (a file path), for messages. */
  source: string;
  channels: Record<string, ChannelConfig>;
  rules: AlertRule[];
  /** The `chatops:` section: chat users and the platforms' secrets (defaults without one). */
  chatops: ChatopsConfig;
}

/** One problem of an alerts file, where it is. */
export interface AlertsConfigIssue {
  line: number;
  column: number;
  /** The field, e.g. `rules[0].channels[1]` (empty for the whole file). */
  field: string;
  message: string;
}

/** An alerts file that cannot be used: each problem with its line and field. */
export class AlertsConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: AlertsConfigIssue[],
  ) {
    super(
      `${source} is not a valid alerts file:\n` +
        issues
          .map(
            (i) =>
              `  ${source}:${i.line}:${i.column}: ${i.field ? `${i.field}: ` : ''}${i.message}`,
          )
          .join('\n'),
    );
    this.name = 'AlertsConfigError';
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const NAME_MESSAGE = 'letters, digits, ".", "_" and "-", up to 64 characters';

const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  // `cooldown: 10` reads as minutes to a person and as milliseconds to code: ask for the unit.
  if (/^\s*\d+(\.\d+)?\s*$/.test(String(value)) && Number(value) !== 0) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(value)} has no unit: write e.g. ${value}s, ${value}m or ${value}ms`,
    });
    return z.NEVER;
  }
  try {
    return toMs(value);
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: `cannot read ${JSON.stringify(value)} as a duration (e.g. 30s, 10m, 1h)`,
    });
    return z.NEVER;
  }
});

const secretText = z.string().min(1, 'must not be empty');

const channelSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('webhook'), url: httpUrl, secret: secretText }),
    z.strictObject({ type: z.literal('slack'), url: httpUrl }),
    z.strictObject({
      type: z.literal('telegram'),
      botToken: secretText,
      chatId: z.union([z.string().min(1), z.number().int()]).transform(String),
      apiBase: httpUrl.default(TELEGRAM_API_BASE),
    }),
  ],
  { error: 'type must be webhook, slack or telegram' },
);

const glob = z.string().min(1).max(200);

const ruleSchema = z.strictObject({
  name: z.string().regex(NAME, NAME_MESSAGE),
  on: z.array(z.enum(ALERT_EVENTS)).min(1, 'name at least one event'),
  job: glob.optional(),
  category: glob.optional(),
  severity: z.enum(ALERT_SEVERITIES).default('warning'),
  cooldown: duration.prefault(DEFAULT_COOLDOWN),
  channels: z.array(z.string()).min(1, 'name at least one channel'),
  message: z.string().max(2000).optional(),
  afterAttempt: z.number().int().min(1).optional(),
  backlogAfter: duration.optional(),
});

const fileSchema = z
  .strictObject({
    channels: z
      .record(z.string().regex(NAME, NAME_MESSAGE), channelSchema)
      .nullish()
      .transform((v) => v ?? {}),
    rules: z
      .array(ruleSchema)
      .nullish()
      .transform((v) => v ?? []),
    chatops: chatopsConfigSchema.nullish().transform((v) => v ?? chatopsConfigSchema.parse({})),
  })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.rules.forEach((rule, index) => {
      const at = (...path: (string | number)[]) => ['rules', index, ...path];
      if (seen.has(rule.name))
        ctx.addIssue({
          code: 'custom',
          path: at('name'),
          message: `a second rule named ${rule.name}`,
        });
      seen.add(rule.name);
      rule.channels.forEach((channel, c) => {
        if (!Object.hasOwn(file.channels, channel)) {
          const known = Object.keys(file.channels);
          ctx.addIssue({
            code: 'custom',
            path: at('channels', c),
            message: `unknown channel ${JSON.stringify(channel)} (channels: ${known.length ? known.join(', ') : 'none'})`,
          });
        }
      });
      if (rule.on.includes('queue.backlog') && rule.backlogAfter === undefined)
        ctx.addIssue({
          code: 'custom',
          path: at('backlogAfter'),
          message:
            'required with queue.backlog: how long the oldest waiting run may wait (e.g. 5m)',
        });
      if (rule.backlogAfter !== undefined && !rule.on.includes('queue.backlog'))
        ctx.addIssue({
          code: 'custom',
          path: at('backlogAfter'),
          message: 'only applies to queue.backlog, which `on` does not name',
        });
      rule.channels.forEach((channel, c) => {
        if (rule.channels.indexOf(channel) < c)
          ctx.addIssue({
            code: 'custom',
            path: at('channels', c),
            message: `${channel} is named twice`,
          });
      });
      if (rule.afterAttempt !== undefined && !rule.on.includes('run.retrying'))
        ctx.addIssue({
          code: 'custom',
          path: at('afterAttempt'),
          message: 'only applies to run.retrying, which `on` does not name',
        });
      for (const problem of templateProblems(rule.message ?? ''))
        ctx.addIssue({ code: 'custom', path: at('message'), message: problem });
    });
  });

/**
 * Parse and validate the text of an alerts file. `source` names it in messages; `env` gives the
 * values of `${ENV_VAR}` references. Throws {@link AlertsConfigError} naming every problem's line
 * and field.
 */
export function parseAlertsConfig(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
): AlertsConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new AlertsConfigError(
      source,
      doc.errors.map((err) => {
        const pos = lines.linePos(err.pos[0]);
        return { line: pos.line, column: pos.col, field: '', message: err.message };
      }),
    );
  }
  const issues: AlertsConfigIssue[] = [];
  const raw: unknown = doc.toJS() ?? {};
  const value = substituteEnv(raw, [], env, (path, message) =>
    issues.push(issueAt(doc, lines, path, message)),
  );
  if (issues.length > 0) throw new AlertsConfigError(source, issues);
  const parsed = fileSchema.safeParse(value, {
    // "Invalid input: expected string, received undefined" says less than this.
    error: (issue) => (issue.input === undefined ? 'is required' : undefined),
  });
  if (!parsed.success) {
    throw new AlertsConfigError(
      source,
      parsed.error.issues.flatMap((issue) => {
        const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
        if (issue.code === 'unrecognized_keys') {
          return issue.keys.map((key) =>
            issueAt(doc, lines, [...path, key], 'is not a known field', { keyOnly: true }),
          );
        }
        return [issueAt(doc, lines, path, issue.message)];
      }),
    );
  }
  const file = parsed.data;
  return {
    source,
    channels: file.channels,
    rules: file.rules.map((rule) => ({
      name: rule.name,
      on: [...new Set(rule.on)],
      job: rule.job ?? null,
      category: rule.category ?? null,
      severity: rule.severity,
      cooldownMs: rule.cooldown,
      channels: [...new Set(rule.channels)],
      message: rule.message ?? null,
      afterAttempt: rule.afterAttempt ?? null,
      backlogAfterMs: rule.backlogAfter ?? null,
    })),
    chatops: file.chatops,
  };
}

/** Read, parse and validate an alerts file (see {@link parseAlertsConfig}). */
export function loadAlertsFile(path: string, env: NodeJS.ProcessEnv = process.env): AlertsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AlertsConfigError(path, [
      { line: 0, column: 0, field: '', message: `cannot be read: ${(err as Error).message}` },
    ]);
  }
  return parseAlertsConfig(text, path, env);
}

/** The issue at `path`: the line of its node, else of the nearest node that holds it. */
function issueAt(
  doc: Document,
  lines: LineCounter,
  path: (string | number)[],
  message: string,
  options: { keyOnly?: boolean } = {},
): AlertsConfigIssue {
  let offset = 0;
  for (let depth = path.length; depth >= 0; depth--) {
    const prefix = path.slice(0, depth);
    if (options.keyOnly && depth === path.length) {
      // An unknown key: point at the key itself.
      const parent = prefix.length > 1 ? doc.getIn(prefix.slice(0, -1), true) : doc.contents;
      if (isMap(parent)) {
        const pair = parent.items.find(
          (item) => (item.key as { value?: unknown } | null)?.value === prefix[prefix.length - 1],
        );
        const range = (pair?.key as Node | undefined)?.range;
        if (range) {
          offset = range[0];
          break;
        }
      }
      continue;
    }
    const node = (depth === 0 ? doc.contents : doc.getIn(prefix, true)) as Node | null | undefined;
    if (node?.range) {
      offset = node.range[0];
      break;
    }
  }
  const pos = lines.linePos(offset);
  return { line: pos.line, column: pos.col, field: fieldName(path), message };
}
