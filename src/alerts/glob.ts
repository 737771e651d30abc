/**
 * A matcher for a name pattern of an alert rule: `*` stands for any text (dots included, so
 * `billing.*` matches `billing.invoice.send`), `?` for one character; everything else is itself.
 */
export function globMatcher(pattern: string): (name: string) => boolean {
  const source = pattern
    .split('')
    .map((char) =>
      char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&'),
    )
    .join('');
  const regex = new RegExp(`^${source}$`, 's');
  return (name) => regex.test(name);
}
