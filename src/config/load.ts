/**
 * Reading a config file: YAML, ${ENV} interpolation, schema validation, cross-reference checks,
 * compilation. Every problem is reported with its path (`budgets[2].limit_usd: expected a positive number`)
 * and nothing starts with a config that has any.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { compileConfig } from './compile.js';
import { interpolateEnv } from './env.js';
import type { RuntimeConfig } from './runtime.js';
import { configSchema } from './schema.js';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

function issueMessages(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

/** Parses and compiles config text; throws ConfigError listing every problem. */
export function parseConfig(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
): RuntimeConfig {
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      source,
      document.errors.slice(0, 5).map((e) => `yaml: ${e.message.split('\n')[0]}`),
    );
  }
  let raw: unknown;
  try {
    raw = document.toJS() ?? {};
  } catch (error) {
    // e.g. an alias to an anchor that does not exist: a YAML problem like any other
    throw new ConfigError(source, [`yaml: ${(error as Error).message.split('\n')[0]}`]);
  }
  const envProblems: { path: string; message: string }[] = [];
  const interpolated = interpolateEnv(raw, env, envProblems);
  const problems = envProblems.map((p) => `${p.path}: ${p.message}`);
  const parsed = configSchema.safeParse(interpolated);
  if (!parsed.success) problems.push(...issueMessages(parsed.error));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(source, problems);
  const compiled = compileConfig(parsed.data);
  if (compiled.problems.length > 0) throw new ConfigError(source, compiled.problems);
  return compiled.config;
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot read file: ${(error as Error).message}`]);
  }
  return parseConfig(text, path, env);
}
