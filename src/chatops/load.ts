import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { JobdeckError } from '../core/errors.js';
import { parseChatopsConfig, type ChatopsConfig } from './config.js';

const ENV_REFERENCE = /\$\{([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The `chatops:` section of the alerts file at `path` (YAML), validated, with every `${ENV_VAR}`
 * replaced by the variable's value from `env`. A file without the section gives the defaults. A
 * problem is INVALID_INPUT naming the file and the field.
 */
export function loadChatopsSection(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): ChatopsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new JobdeckError('INVALID_INPUT', `${path}: cannot be read: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text, { uniqueKeys: true, prettyErrors: true });
  } catch (err) {
    throw new JobdeckError('INVALID_INPUT', `${path}: ${(err as Error).message}`);
  }
  const section =
    doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>).chatops : undefined;
  const problems: string[] = [];
  const value = substituteEnv(section, 'chatops', env, problems);
  if (problems.length > 0)
    throw new JobdeckError('INVALID_INPUT', `${path}: ${problems.join('; ')}`);
  return parseChatopsConfig(value, path);
}

/** Every string with its `${NAME}` references replaced; a missing variable is a problem. */
function substituteEnv(
  value: unknown,
  field: string,
  env: NodeJS.ProcessEnv,
  problems: string[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (match, name: string) => {
      if (!ENV_NAME.test(name)) {
        problems.push(`${field}: ${match} is not an environment variable reference`);
        return '';
      }
      const replacement = env[name];
      if (replacement === undefined || replacement === '') {
        problems.push(`${field}: environment variable ${name} is not set`);
        return '';
      }
      return replacement;
    });
  }
  if (Array.isArray(value))
    return value.map((item, i) => substituteEnv(item, `${field}[${i}]`, env, problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        substituteEnv(item, `${field}.${key}`, env, problems),
      ]),
    );
  }
  return value;
}
