/**
 * What every store can keep of a JSON value. SQLite keeps any text; PostgreSQL's jsonb refuses
 * U+0000 and lone UTF-16 surrogates. Checking here, before any store sees the value, makes the
 * same handler end the same way on every backend.
 */

const NUL = '\u0000';
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** How U+0000 and lone surrogates look once serialised: a cheap test before any walk. */
const ESCAPED_SUSPECT = /\\u0000|\\ud[89a-f]/i;

/** Why `value` cannot be stored as JSON (naming where in it, from `path`), or null if it can. */
export function unstorableJsonReason(value: unknown, path: string): string | null {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    return storableText(`${path} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (json === undefined || !ESCAPED_SUSPECT.test(json)) return null;
  return unstorableTextIn(JSON.parse(json) as unknown, path);
}

function unstorableTextIn(value: unknown, path: string): string | null {
  if (typeof value === 'string') return unstorableText(value, path);
  if (Array.isArray(value)) {
    for (const [index, element] of value.entries()) {
      const reason = unstorableTextIn(element, `${path}[${index}]`);
      if (reason) return reason;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, element] of Object.entries(value)) {
      const reason =
        unstorableText(key, `a key of ${path}`) ?? unstorableTextIn(element, `${path}.${key}`);
      if (reason) return reason;
    }
  }
  return null;
}

function unstorableText(text: string, path: string): string | null {
  if (text.includes(NUL)) return `${path} contains U+0000, which the store cannot keep`;
  if (LONE_SURROGATE.test(text)) return `${path} contains a lone surrogate (not valid Unicode)`;
  return null;
}

/** Text made storable everywhere: U+0000 and lone surrogates become U+FFFD. For messages. */
export function storableText(text: string): string {
  return text.replaceAll(NUL, '\uFFFD').replace(new RegExp(LONE_SURROGATE, 'g'), '\uFFFD');
}
