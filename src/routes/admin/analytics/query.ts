/**
 * What the analytics routes share: time parameters (ISO 8601 or epoch milliseconds) and ranges,
 * all rejected through the one bad-query answer (`invalidQuery`, as `parseQuery` does).
 */
import { z } from 'zod';
import { invalidQuery } from '../shared/problems.js';
import { commonErrors } from '../shared/route.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export const time = z
  .string()
  .describe('ISO 8601 time (2026-11-28T10:00:00Z) or milliseconds since the epoch.')
  .optional();

export const queryErrors = {
  ...commonErrors,
  400: 'A query parameter is malformed (the error names it).',
};

/** One bad query parameter, answered like every other (400, `param`, `problems`). */
export function badParameter(param: string, message: string): never {
  throw invalidQuery([{ field: param, message }]);
}

/** A date, or a date and time with an optional zone (Date.parse alone accepts far too much). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** ISO 8601 or epoch milliseconds; 400 naming the parameter otherwise. */
export function parseTime(value: string | undefined, param: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const ms = /^\d+$/.test(value) ? Number(value) : ISO_8601.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > 8.64e15) {
    return badParameter(param, 'expected an ISO 8601 time or epoch milliseconds');
  }
  return ms;
}

/** `from`..`to` of a query; `to` defaults to now, `from` to `defaultSpanMs` before `to`. */
export function range(q: { from?: string; to?: string }, now: number, defaultSpanMs: number) {
  const toMs = parseTime(q.to, 'to', now);
  const fromMs = parseTime(q.from, 'from', toMs - defaultSpanMs);
  if (fromMs >= toMs) badParameter('to', 'expected a time after from');
  return { fromMs, toMs };
}

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
