/** Request fields the mock's OpenAI routes share, checked the way OpenAI answers them. */
import { invalidRequest } from './errors.js';
import type { Exchange, Json } from './exchange.js';

/** OpenAI's upper bound for `n` (chat and legacy completions). */
export const MAX_CHOICES = 128;
/** OpenAI's upper bound for `best_of`. */
export const MAX_BEST_OF = 20;

export function includeUsage(body: Json): boolean {
  const so = body.stream_options;
  return typeof so === 'object' && so !== null && (so as Json).include_usage === true;
}

export function requireModel(ex: Exchange, body: Json): string | undefined {
  if (typeof body.model === 'string' && body.model !== '') return body.model;
  ex.sendError(invalidRequest('openai', 'you must provide a model parameter'));
  return undefined;
}

/**
 * A choice count (`n`, `best_of`): 1 when absent or null; a 400 (and undefined) when it is not an
 * integer in 1..max, as OpenAI answers.
 */
export function choiceCount(ex: Exchange, body: Json, field: string, max: number): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return 1;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= max) return value;
  const problem =
    typeof value === 'number' && Number.isInteger(value) && value > max
      ? `${value} is greater than the maximum of ${max} - '${field}'`
      : `${JSON.stringify(value)} is not valid under any of the given schemas - '${field}'`;
  ex.sendError(invalidRequest('openai', problem, field));
  return undefined;
}
