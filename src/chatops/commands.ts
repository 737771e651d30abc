import { LIMITS } from '../api/schemas.js';
import type { CancelMode } from '../core/cancellation.js';
import { formatDuration } from '../core/duration.js';
import type { JobdeckError } from '../core/errors.js';
import { ERROR_CODES, isErrorCode } from '../core/errors.js';
import type { Principal } from '../core/glossary.js';
import type { Run } from '../core/run.js';
import { isTerminal } from '../core/status.js';
import { countOf, isStorableText } from '../core/text.js';
import type { JobDefinition } from '../jobs/define.js';
import type { Jobdeck } from '../jobdeck.js';
import { requireRole } from '../runs/service.js';
import { isStoreUnavailable } from '../store/unavailable.js';

/**
 * The `/jobs` chat commands, answered in short plain text with links to the dashboard. The same for
 * every surface (the CLI's `jobdeck chat`, Telegram, Slack): they differ only in who the principal
 * is. Listing, starting and cancelling go through the services the HTTP API calls, so the roles and
 * the owner-or-admin rule are the API's, and a refusal's text is the API's message.
 */

/** What the commands use of an instance. */
export type ChatDeck = Pick<Jobdeck, 'runs' | 'cancels' | 'registry' | 'clock' | 'publicUrl'>;

export interface ChatRequest {
  /** Who asks; null when this chat user may do nothing. */
  principal: Principal | null;
  /** The message, e.g. `/jobs cancel 0190a7c2 force wrong input`. */
  text: string;
  /** The chat user as `chatops.users` names them (`telegram:12345`), for the refusal of null. */
  user?: string;
}

export interface ChatReply {
  text: string;
  /** True when the command started or cancelled a run (chats may show those to everyone). */
  changed: boolean;
}

/** Runs listed per answer; the dashboard link shows the rest. */
const LIST_LIMIT = 10;
/** Latest runs shown with a job. */
const JOB_RUNS = 5;
/** Past this many jobs, the overview lists categories instead of names. */
const OVERVIEW_JOBS = 30;
/** Error messages are cut to this many characters in lists. */
const MESSAGE_CHARS = 120;

/** `/jobs`, `/JOBS`, and `/jobs@SomeBot` as Telegram writes commands addressed to one bot in a group. */
const COMMAND = /^\/jobs(?:@[A-Za-z0-9_]+)?(?=\s|$)/i;
/** A run id or its start, as the API's `q` takes it. */
const RUN_ID_PREFIX = /^[0-9a-fA-F-]{1,36}$/;
/** A run's dashboard link, pasted instead of its id. */
const RUN_LINK = /\/dashboard\/runs\/([0-9a-fA-F-]{36})\/?$/;

export const CHAT_HELP = [
  '/jobs — what runs now, and the jobs',
  '/jobs active — running runs',
  '/jobs failed — the latest failed runs',
  '/jobs <job> — a job and its latest runs',
  '/jobs <category> — the jobs of a category',
  '/jobs <run> — one run, by id or the start of one',
  '/jobs run <job> [json input] — start a run (operator)',
  '/jobs cancel <run> [force] [reason] — stop a run: gracefully, or at once with force (its creator or an admin)',
  '/jobs help — this list',
];

/** Whether a message is a `/jobs` command at all (chats ignore everything else). */
export function isChatCommand(text: string): boolean {
  return COMMAND.test(text.trim());
}

/** Answer one chat command. Refusals and bad input are answers; only failures of Jobdeck throw. */
export async function runChatCommand(deck: ChatDeck, request: ChatRequest): Promise<ChatReply> {
  if (!request.principal) {
    return read(
      `Not allowed: ${request.user ?? 'this chat user'} is not mapped to a Jobdeck principal. An admin can add it to chatops.users.`,
    );
  }
  const commands = new Commands(deck, request.principal);
  try {
    return await commands.answer(request.text);
  } catch (err) {
    // A busy or unreachable store is an answer too: try again later.
    if (isStoreUnavailable(err)) return read(ERROR_CODES.STORE_UNAVAILABLE.message);
    const code = (err as { code?: unknown }).code;
    if (!(err instanceof Error) || !isErrorCode(code)) throw err;
    return read(errorText(err as JobdeckError, deck));
  }
}

const read = (text: string): ChatReply => ({ text, changed: false });

class Commands {
  constructor(
    private readonly deck: ChatDeck,
    private readonly principal: Principal,
  ) {}

  async answer(text: string): Promise<ChatReply> {
    const message = text.trim();
    const match = COMMAND.exec(message);
    if (!match) return read('Commands start with /jobs. Send /jobs help for the list.');
    const rest = message.slice(match[0].length).trim();
    const [word = '', ...more] = rest.split(/\s+/);
    const args = rest.slice(word.length).trim();
    switch (word.toLowerCase()) {
      case '':
        return read(await this.overview());
      case 'help':
        return read(this.help());
      case 'active':
        return read(await this.active());
      case 'failed':
        return read(await this.failed());
      case 'run':
        return this.start(args);
      case 'cancel':
        return this.cancel(more, args);
      default:
        return read(await this.lookup(rest));
    }
  }

  private help(): string {
    return [
      ...CHAT_HELP,
      `You are ${this.principal.name} (${this.principal.role}).`,
      this.link('/dashboard'),
    ].join('\n');
  }

  /** Counts of what runs and waits, and the jobs by category. */
  private async overview(): Promise<string> {
    requireRole(this.principal, 'viewer');
    const now = this.deck.clock.now();
    const [counts, failed, jobs] = await Promise.all([
      this.deck.runs.countUnfinished(),
      this.deck.runs.count({
        status: ['failed'],
        createdFrom: new Date(now.getTime() - 24 * 3600_000),
      }),
      this.deck.runs.jobs(),
    ]);
    const parts = [
      [counts.running ?? 0, 'running'],
      [counts.cancelling ?? 0, 'stopping'],
      // Not "waiting": that is the status of runs whose handler waits for child runs.
      [(counts.pending ?? 0) + (counts.scheduled ?? 0), 'queued'],
      [counts.paused ?? 0, 'paused'],
      [counts.waiting ?? 0, 'waiting for child runs'],
    ]
      .filter(([n]) => n !== 0)
      .map(([n, what]) => `${n} ${what}`);
    const lines = [
      `Jobdeck: ${parts.length ? parts.join(', ') : 'nothing running or queued'}; ${failed.total}${failed.capped ? '+' : ''} failed in the last 24 h`,
    ];
    const byCategory = new Map<string, string[]>();
    for (const { definition, enabled } of jobs) {
      const names = byCategory.get(definition.category) ?? [];
      names.push(enabled ? definition.name : `${definition.name} (disabled)`);
      byCategory.set(definition.category, names);
    }
    lines.push(`${countOf(jobs.length, 'job')}:`);
    for (const [category, names] of [...byCategory].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(
        jobs.length > OVERVIEW_JOBS
          ? `• ${category}: ${names.length} jobs`
          : `• ${category}: ${names.join(', ')}`,
      );
    }
    lines.push('/jobs active · /jobs failed · /jobs help', this.link('/dashboard'));
    return lines.join('\n');
  }

  private async active(): Promise<string> {
    requireRole(this.principal, 'viewer');
    const { runs } = await this.deck.runs.list({
      status: ['running', 'cancelling'],
      limit: LIST_LIMIT + 1,
    });
    if (runs.length === 0) return `No run is active.\n${this.link('/dashboard/runs')}`;
    return this.runList('Active runs', runs, '/dashboard/runs?status=running');
  }

  private async failed(): Promise<string> {
    requireRole(this.principal, 'viewer');
    const { runs } = await this.deck.runs.list({ status: ['failed'], limit: LIST_LIMIT + 1 });
    if (runs.length === 0) return `No failed runs.\n${this.link('/dashboard/runs')}`;
    return this.runList('Failed runs', runs, '/dashboard/runs?status=failed');
  }

  /** Up to LIST_LIMIT runs, each with its link; `runs` holds one more when there are more. */
  private runList(title: string, runs: Run[], more: string): string {
    const shown = runs.slice(0, LIST_LIMIT);
    const lines = [
      runs.length > LIST_LIMIT
        ? `${title}, the ${LIST_LIMIT} newest:`
        : `${title} (${shown.length}):`,
    ];
    for (const run of shown) lines.push(`• ${this.describe(run)}`, `  ${this.runLink(run)}`);
    if (runs.length > LIST_LIMIT) lines.push(`More: ${this.link(more)}`);
    return lines.join('\n');
  }

  /** `/jobs <word>`: a job, else a category, else a run. */
  private async lookup(name: string): Promise<string> {
    requireRole(this.principal, 'viewer');
    const job = this.deck.registry.get(name);
    if (job) return this.job(job);
    const inCategory = this.deck.registry.list().filter((j) => j.category === name);
    if (inCategory.length > 0) return this.category(name, inCategory);
    const id = runIdIn(name);
    if (RUN_ID_PREFIX.test(id)) {
      const found = await this.findRun(id);
      if (typeof found !== 'string') return this.run(found);
      // Several runs: say which. None: the word may as well have been a job's name.
      if (found !== noRun(id)) return found;
    }
    return `No job, category or run is named ${JSON.stringify(name)}. Send /jobs help for the commands.`;
  }

  private async job(job: JobDefinition): Promise<string> {
    const enabled = await this.deck.runs.isEnabled(job);
    const schedule = job.schedule?.description;
    const head = [
      `${job.name} (${job.category})`,
      enabled ? 'enabled' : 'disabled',
      ...(schedule
        ? [
            schedule.kind === 'every'
              ? `every ${formatDuration(schedule.everyMs)}`
              : `cron ${schedule.cron}${schedule.timezone ? ` ${schedule.timezone}` : ''}`,
          ]
        : []),
    ].join(' · ');
    const lines = [head];
    if (job.description) lines.push(job.description);
    const { runs } = await this.deck.runs.list({ job: job.name, limit: JOB_RUNS });
    if (runs.length === 0) lines.push('No runs yet.');
    else lines.push('Latest runs:');
    for (const run of runs) lines.push(`• ${this.describe(run, false)}`, `  ${this.runLink(run)}`);
    if (job.canTrigger) lines.push(`Start one: /jobs run ${job.name} {…input}`);
    lines.push(this.link(`/dashboard/jobs/${encodeURIComponent(job.name)}`));
    return lines.join('\n');
  }

  private async category(category: string, jobs: JobDefinition[]): Promise<string> {
    const lines = [`${category}: ${countOf(jobs.length, 'job')}`];
    const shown = jobs.slice(0, OVERVIEW_JOBS);
    const latest = await Promise.all(
      shown.map(async (job) => (await this.deck.runs.list({ job: job.name, limit: 1 })).runs[0]),
    );
    shown.forEach((job, i) => {
      const run = latest[i];
      lines.push(
        `• ${job.name}: ${run ? `last run ${this.describe(run, false)}` : 'no runs yet'}`,
        ...(run ? [`  ${this.runLink(run)}`] : []),
      );
    });
    if (jobs.length > shown.length) lines.push(`… and ${jobs.length - shown.length} more`);
    lines.push(this.link('/dashboard/jobs'));
    return lines.join('\n');
  }

  private run(run: Run): string {
    const lines = [
      `${this.describe(run)}`,
      `id ${run.id} · attempt ${run.attempt}/${run.maxAttempts}`,
    ];
    if (run.progress?.message) lines.push(run.progress.message);
    if (run.cancel) {
      lines.push(
        `cancel: ${run.cancel.mode} by ${run.cancel.requestedBy}${run.cancel.reason ? `: ${clip(run.cancel.reason)}` : ''}`,
      );
    }
    lines.push(this.runLink(run));
    return lines.join('\n');
  }

  /** `/jobs run <job> [json input]`: a run started by hand, as the API's trigger would. */
  private async start(args: string): Promise<ChatReply> {
    const [name = ''] = args.split(/\s+/);
    if (!name) return read('Which job? /jobs run <job> [json input]');
    const raw = args.slice(name.length).trim();
    let input: unknown;
    if (raw) {
      try {
        input = JSON.parse(straightQuotes(raw));
      } catch (err) {
        return read(
          `The input is not JSON (${(err as Error).message}). Example: /jobs run ${name} {"key": "value"}`,
        );
      }
    }
    requireRole(this.principal, 'operator');
    const { run } = await this.deck.runs.create({
      job: name,
      ...(input === undefined ? {} : { input }),
      trigger: 'manual',
      principal: this.principal,
    });
    return {
      text: `Started ${run.job}: ${run.id} (${run.status})\n${this.runLink(run)}`,
      changed: true,
    };
  }

  /** `/jobs cancel <run> [force] [reason]`: the API's cancel, with its rules and answers. */
  private async cancel(words: string[], args: string): Promise<ChatReply> {
    const [given = '', second = ''] = words;
    if (!given) return read('Which run? /jobs cancel <run> [force] [reason]');
    const force = second.toLowerCase() === 'force';
    const graceful = second.toLowerCase() === 'graceful';
    let reason = args.slice(given.length).trim();
    if (force || graceful) reason = reason.slice(second.length).trim();
    if (reason.length > LIMITS.reason || !isStorableText(reason))
      return read(`The reason must be text of at most ${LIMITS.reason} characters.`);
    const id = runIdIn(given);
    if (!RUN_ID_PREFIX.test(id))
      return read(`${JSON.stringify(given)} is not a run id: give the id or its start.`);
    // As the API's route does: the role first, whatever the run.
    requireRole(this.principal, 'operator');
    const found = await this.findRun(id);
    if (typeof found === 'string') return read(found);
    const mode: CancelMode = force ? 'force' : 'graceful';
    const { run, action } = await this.deck.cancels.cancel(
      found.id,
      { mode, reason: reason || null },
      this.principal,
    );
    const what = `${run.job} ${run.id}`;
    const said: Record<string, string> = {
      'cancel-now':
        run.attempt === 0
          ? `Cancelled ${what}: it had not started.`
          : `Cancelled ${what} at once: no handler was running (it was paused, waiting for its child runs, or between tries).`,
      force: isTerminal(run.status)
        ? `Cancelled ${what} by force: it was stopped at once.`
        : `Stopping ${what} by force.`,
      request: `Stopping ${what} gracefully: it stops at its next checkpoint, keeping what it did.`,
      unchanged:
        run.status === 'cancelling'
          ? `${what} is already stopping (${run.cancel?.mode ?? mode}). Add force to stop it at once.`
          : `${what} is already ${run.status}.`,
    };
    return {
      text: `${said[action] ?? `${what}: ${action}`}\n${this.runLink(run)}`,
      changed: action !== 'unchanged',
    };
  }

  /** The one run whose id starts with `prefix`, or a sentence saying why there is none. */
  private async findRun(prefix: string): Promise<Run | string> {
    const { runs } = await this.deck.runs.list({ idPrefix: prefix, limit: 3 });
    if (runs.length === 1) return runs[0]!;
    if (runs.length === 0) return noRun(prefix);
    const exact = runs.find((run) => run.id === prefix.toLowerCase());
    if (exact) return exact;
    return [
      `${prefix} is the start of more than one run; give more of the id:`,
      ...runs.slice(0, 2).map((run) => `• ${run.id} ${run.job} ${run.status}`),
      ...(runs.length > 2 ? ['• …'] : []),
    ].join('\n');
  }

  /** One line about a run: its job (unless `withJob` is false), status, progress, times, owner. */
  private describe(run: Run, withJob = true): string {
    const now = this.deck.clock.now().getTime();
    const parts: string[] = [withJob ? `${run.job} ${run.status}` : run.status];
    const progress = run.progress;
    if (progress && !isTerminal(run.status)) {
      if (progress.percent !== null) parts.push(`${Math.round(progress.percent)}%`);
      else if (progress.processed !== null)
        parts.push(`${progress.processed}${progress.total !== null ? `/${progress.total}` : ''}`);
    }
    let when: string;
    if (run.finishedAt) {
      const took = run.startedAt
        ? ` after ${formatDuration(run.finishedAt.getTime() - run.startedAt.getTime())}`
        : '';
      when = `${since(now - run.finishedAt.getTime())} ago${took}`;
    } else if (run.startedAt) {
      when = `for ${since(now - run.startedAt.getTime())}`;
    } else {
      when =
        run.runAt.getTime() > now
          ? `starts in ${since(run.runAt.getTime() - now)}`
          : `waiting ${since(now - run.createdAt.getTime())}`;
    }
    let line = `${parts.join(' ')} ${when} · by ${run.createdBy}`;
    if (run.status === 'cancelling' && run.cancel)
      line += ` · stop asked by ${run.cancel.requestedBy}`;
    if (run.error && run.status !== 'cancelled')
      line += ` · ${run.error.code}: ${clip(run.error.message)}`;
    return line;
  }

  private runLink(run: Run): string {
    return this.link(`/dashboard/runs/${run.id}`);
  }

  private link(path: string): string {
    return `${this.deck.publicUrl}${path}`;
  }
}

/** A refusal or a problem with the command, as chat text: the API's message, and its details. */
function errorText(err: JobdeckError, deck: ChatDeck): string {
  const lines = [err.message];
  for (const detail of err.details ?? [])
    lines.push(`• ${detail.path.join('.')}: ${detail.message}`);
  const run = err.code === 'RUN_FINISHED' ? (err.data as Run | undefined) : undefined;
  if (run) lines.push(`${deck.publicUrl}/dashboard/runs/${run.id}`);
  return lines.join('\n');
}

const noRun = (prefix: string) => `No run has an id starting with ${prefix}.`;

/**
 * A span up to now, to the minute: the same answer a few seconds apart (the CLI and a chat agree),
 * and the dashboard has the exact times.
 */
function since(ms: number): string {
  return ms < 60_000 ? 'under a minute' : formatDuration(ms);
}

/** Long text cut to MESSAGE_CHARS, on one line. */
function clip(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MESSAGE_CHARS ? `${line.slice(0, MESSAGE_CHARS - 1)}…` : line;
}

/** Phones type “curly” quotes; JSON needs straight ones. */
function straightQuotes(text: string): string {
  return text.replace(/[\u201C\u201D\u201E\u201F\u2033]/g, '"').replace(/[\u2018\u2019]/g, "'");
}

/** Slack sends a pasted link as `<url>` or `<url|label>`. */
function unwrapLink(text: string): string {
  const match = /^<([^|>]+)(?:\|[^>]*)?>$/.exec(text);
  return match ? match[1]! : text;
}

/** The run id a word names: itself, or the id in a pasted link to the run's dashboard page. */
function runIdIn(word: string): string {
  return RUN_LINK.exec(unwrapLink(word))?.[1] ?? word;
}
