/**
 * Message templates of alert rules: `{{job}} {{status}}: {{error.message}} ({{link}})`. A
 * placeholder is a dotted path into what the alert is about; a missing value renders as nothing.
 */

/** What a message may name, each with what it holds. */
export const TEMPLATE_FIELDS = {
  event:
    'what happened: run.failed, run.partial, run.cancelled, run.stuck, run.retrying, queue.backlog',
  rule: 'the rule that fired',
  severity: "the rule's severity",
  job: 'the job',
  category: "the job's category (when this instance defines the job)",
  status: "the run's status when the event was written",
  runId: 'the run id',
  run: 'the run (run.attempt, run.createdBy, run.startedAt, …)',
  error: "the run's error, else the error of its latest failed attempt (error.code, error.message)",
  attempt: 'the attempt the event is about',
  maxAttempts: 'the tries the run has in all',
  link: "the run's page in the dashboard",
  since: 'run.stuck: when the attempt started; queue.backlog: since when the oldest run waits',
  waiting: 'queue.backlog: how long the oldest run has waited, e.g. 12 min',
} as const;

export type TemplateField = keyof typeof TEMPLATE_FIELDS;

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/;

/** What is wrong with a template's placeholders; empty when nothing is. */
export function templateProblems(template: string): string[] {
  const problems: string[] = [];
  for (const [, path] of template.matchAll(PLACEHOLDER)) {
    if (!PATH.test(path!)) {
      problems.push(`{{${path}}} is not a name or a dotted path`);
      continue;
    }
    const root = path!.split('.')[0]!;
    if (!Object.hasOwn(TEMPLATE_FIELDS, root))
      problems.push(
        `unknown placeholder {{${path}}}; known: ${Object.keys(TEMPLATE_FIELDS).join(', ')}`,
      );
  }
  return problems;
}

/** The template with each placeholder replaced by its value (objects as JSON, none as ''). */
export function renderTemplate(template: string, values: Record<string, unknown>): string {
  return template.replace(PLACEHOLDER, (_match, path: string) => {
    let value: unknown = values;
    for (const part of path.split('.')) {
      value =
        value !== null && typeof value === 'object' && Object.hasOwn(value, part)
          ? (value as Record<string, unknown>)[part]
          : undefined;
    }
    if (value === undefined || value === null) return '';
    if (value instanceof Date) return value.toISOString();
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return JSON.stringify(value) ?? '';
  });
}
