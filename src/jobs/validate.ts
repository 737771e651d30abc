import type { z } from 'zod';
import { JobdeckError, type FieldIssue } from '../core/errors.js';
import { UNSTORABLE_TEXT_MESSAGE, findUnstorableText } from '../core/text.js';

/** Parse with a schema, or throw INVALID_INPUT with the path of each bad field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what = 'input'): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  // Paths start with the field that holds the value (`input`), as a caller sent it.
  throw new JobdeckError('INVALID_INPUT', `The ${what} is not valid.`, {
    details: fieldIssues(parsed.error, [what]),
  });
}

/** The issues of a failed parse as field details, each path after `prefix`. */
export function fieldIssues(error: z.ZodError, prefix: (string | number)[] = []): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
    message: issue.message,
  }));
}

/** Refuse a value holding text no store can keep, with INVALID_INPUT naming the field as above. */
export function assertStorable(value: unknown, what = 'input'): void {
  const path = findUnstorableText(value);
  if (path === null) return;
  throw new JobdeckError('INVALID_INPUT', `The ${what} is not valid.`, {
    details: [{ path: [what, ...path], message: UNSTORABLE_TEXT_MESSAGE }],
  });
}
