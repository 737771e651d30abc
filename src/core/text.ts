/**
 * Text every backend can store as it was given. PostgreSQL refuses U+0000 in text and jsonb, and
 * an unpaired UTF-16 surrogate is not Unicode at all (it would be refused or silently replaced).
 * Such values are refused up front, the same way on every backend.
 */
// eslint-disable-next-line no-control-regex -- NUL is exactly what is being looked for
const UNSTORABLE = /[\u0000\p{Cs}]/u;

export const UNSTORABLE_TEXT_MESSAGE = 'must not contain U+0000 or unpaired surrogates';

/** A count with its noun, for people: `1 run`, `2 runs`, `0 jobs`. */
export function countOf(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/** Text made storable everywhere: U+0000 and unpaired surrogates become U+FFFD. For messages. */
export function storableText(text: string): string {
  return isStorableText(text) ? text : text.replace(new RegExp(UNSTORABLE, 'gu'), '\uFFFD');
}

interface Visit {
  value: unknown;
  key: string | number | null;
  parent: Visit | null;
}

function pathOf(visit: Visit): (string | number)[] {
  const path: (string | number)[] = [];
  for (let at: Visit | null = visit; at && at.key !== null; at = at.parent) path.push(at.key);
  return path.reverse();
}

/**
 * The path to the first string (or object key) in a JSON-like value that cannot be stored, or
 * null. Walks without recursion, so a deeply nested body cannot exhaust the stack.
 */
export function findUnstorableText(value: unknown): (string | number)[] | null {
  const pending: Visit[] = [{ value, key: null, parent: null }];
  while (pending.length > 0) {
    const visit = pending.pop()!;
    const current = visit.value;
    if (typeof current === 'string') {
      if (!isStorableText(current)) return pathOf(visit);
    } else if (Array.isArray(current)) {
      current.forEach((element, index) =>
        pending.push({ value: element, key: index, parent: visit }),
      );
    } else if (current !== null && typeof current === 'object') {
      for (const [key, element] of Object.entries(current)) {
        if (!isStorableText(key)) return [...pathOf(visit), key];
        pending.push({ value: element, key, parent: visit });
      }
    }
  }
  return null;
}
