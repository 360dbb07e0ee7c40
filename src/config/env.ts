/**
 * `${NAME}` and `${NAME:-default}` in config string values. Interpolation walks the parsed YAML tree
 * (not the raw text), so a secret containing quotes or `#` can never break the file's syntax.
 * A value that is exactly one reference and resolves to a number or boolean becomes that type, so
 * `port: ${PORT:-8080}` is a number as the schema expects.
 */

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}/g;
const WHOLE_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}$/;

export interface EnvProblem {
  path: string;
  message: string;
}

export function interpolateEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  problems: EnvProblem[],
  path = '',
): unknown {
  if (typeof value === 'string') return interpolateString(value, env, problems, path);
  if (Array.isArray(value))
    return value.map((item, i) => interpolateEnv(item, env, problems, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = interpolateEnv(item, env, problems, path ? `${path}.${key}` : key);
    }
    return out;
  }
  return value;
}

function interpolateString(
  text: string,
  env: NodeJS.ProcessEnv,
  problems: EnvProblem[],
  path: string,
): unknown {
  if (!text.includes('${')) return text;
  const replaced = text.replace(REFERENCE, (_match, name: string, hasDefault?: string, fallback?: string) => {
    const found = env[name];
    if (found !== undefined && found !== '') return found;
    if (hasDefault !== undefined) return fallback ?? '';
    if (found === '') return '';
    problems.push({
      path,
      message: `environment variable ${name} is not set (write \${${name}:-default} to allow that)`,
    });
    return '';
  });
  if (WHOLE_REFERENCE.test(text)) return scalar(replaced);
  return replaced;
}

function scalar(text: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true') return true;
  if (text === 'false') return false;
  return text;
}
