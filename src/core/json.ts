import { UNSTORABLE_TEXT_MESSAGE, findUnstorableText, storableText } from './text.js';

/** How U+0000 and lone surrogates look once serialised: a cheap test before any walk. */
const ESCAPED_SUSPECT = /\\u0000|\\ud[89a-f]/i;

/**
 * Why `value` cannot be stored as JSON by every store (naming where in it, from `path`), or null
 * if it can: it must serialise, and its text must be storable (see core/text.ts). Checking before
 * any store sees the value makes the same handler end the same way on every backend.
 */
export function unstorableJsonReason(value: unknown, path: string): string | null {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    return storableText(`${path} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (json === undefined || !ESCAPED_SUSPECT.test(json)) return null;
  const at = findUnstorableText(JSON.parse(json) as unknown);
  if (at === null) return null;
  const where = at
    .map((key) => (typeof key === 'number' ? `[${key}]` : `.${storableText(key)}`))
    .join('');
  return `${path}${where} ${UNSTORABLE_TEXT_MESSAGE}`;
}

/**
 * A copy of `value` that every store keeps, for what handlers report along the way (log data):
 * text made storable (U+FFFD in place of U+0000 and unpaired surrogates), and a value that is not
 * JSON replaced by a note saying so — losing the whole log line would be worse.
 */
export function storableJson(value: unknown): unknown {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    return `[not JSON: ${storableText(err instanceof Error ? err.message : String(err))}]`;
  }
  if (json === undefined || !ESCAPED_SUSPECT.test(json)) return value;
  return JSON.parse(json, (_key, element: unknown) => {
    if (typeof element === 'string') return storableText(element);
    if (element === null || typeof element !== 'object' || Array.isArray(element)) return element;
    return Object.fromEntries(
      Object.entries(element).map(([key, inner]) => [storableText(key), inner as unknown]),
    );
  }) as unknown;
}
