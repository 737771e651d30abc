import { z } from 'zod';

/**
 * What the alerts file's sections share: `${ENV_VAR}` references for secrets, http(s) URLs, and
 * where the Telegram Bot API is unless a section says otherwise.
 */

/** The Telegram Bot API, unless `apiBase` says otherwise. */
export const TELEGRAM_API_BASE = 'https://api.telegram.org';

export const httpUrl = z.string().refine(
  (value) => {
    try {
      return ['http:', 'https:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  },
  { message: 'must be an http:// or https:// URL' },
);

const ENV_REFERENCE = /\$\{([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Every string in `value` with its `${NAME}` references replaced by the variable's value from
 * `env`; an unset variable or a malformed reference is reported with the path of its string.
 */
export function substituteEnv(
  value: unknown,
  path: (string | number)[],
  env: NodeJS.ProcessEnv,
  problem: (path: (string | number)[], message: string) => void,
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (match, name: string) => {
      if (!ENV_NAME.test(name)) {
        problem(path, `${match} is not an environment variable reference`);
        return '';
      }
      const replacement = env[name];
      if (replacement === undefined || replacement === '') {
        problem(path, `environment variable ${name} is not set`);
        return '';
      }
      return replacement;
    });
  }
  if (Array.isArray(value))
    return value.map((item, i) => substituteEnv(item, [...path, i], env, problem));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        substituteEnv(item, [...path, key], env, problem),
      ]),
    );
  }
  return value;
}

/** `rules[0].channels[1]`, `chatops.users["telegram:1"]`: where a problem is, as written. */
export function fieldName(path: (string | number)[]): string {
  return path
    .map((part, i) =>
      typeof part === 'number'
        ? `[${part}]`
        : /^[A-Za-z_]\w*$/.test(part)
          ? `${i === 0 ? '' : '.'}${part}`
          : `[${JSON.stringify(part)}]`,
    )
    .join('');
}
