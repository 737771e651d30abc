import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { substituteEnv } from '../core/config-values.js';
import { JobdeckError } from '../core/errors.js';
import { fieldName, parseChatopsConfig, type ChatopsConfig } from './config.js';

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
  const value = substituteEnv(section, ['chatops'], env, (field, message) =>
    problems.push(`${fieldName(field)}: ${message}`),
  );
  if (problems.length > 0)
    throw new JobdeckError('INVALID_INPUT', `${path}: ${problems.join('; ')}`);
  return parseChatopsConfig(value, path);
}
