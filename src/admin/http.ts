/**
 * What every admin route shares: reading a JSON body, turning zod issues into problems by field,
 * and one error body (the OpenAI shape the rest of the gateway answers with, plus `problems` on
 * validation failures so a client sees every problem at once, not the first one).
 */
import type { Context } from 'hono';
import { z } from 'zod';
import { formatPath } from '../config/load.js';
import { type ErrorCode, errorBody, GatewayError } from '../errors.js';
import { parseJsonObject, readRequestBody } from '../http/body.js';
import { StoreUnavailableError } from '../store/types.js';

/** Admin bodies are small definitions; anything bigger is a mistake. */
export const ADMIN_MAX_BODY_BYTES = 256 * 1024;

export interface Problem {
  /** Path in the body, e.g. `thresholds[0].at`; `(root)` for the body itself. */
  field: string;
  message: string;
}

export const problemSchema = z.object({ field: z.string(), message: z.string() });

export const errorSchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    code: z.string(),
    param: z.string().nullable(),
    problems: z.array(problemSchema).optional().describe('Every problem of a rejected body, by field.'),
  }),
});

/** Thrown by handlers; answered by `handled`. */
export class AdminProblem extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
  }
}

export function fail(code: ErrorCode, message: string, param?: string): never {
  throw new GatewayError(code, message, { param });
}

export function zodProblems(error: z.ZodError): Problem[] {
  return issueProblems(error.issues, []);
}

function issueProblems(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    const at = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        problems.push({ field: formatPath([...at, key]), message: 'unknown field' });
    } else if (issue.code === 'invalid_union' && deepestBranch(issue.errors)) {
      // `scope: { team: 1 }` fails both `"global"` and the object; the object branch got further,
      // and its own problem (scope.team) is the one worth reading.
      problems.push(...issueProblems(deepestBranch(issue.errors) ?? [], at));
    } else {
      problems.push({ field: formatPath(at), message: issue.message });
    }
  }
  return problems;
}

/** The union branch whose issues lie inside the value (not at its root), if exactly one does. */
function deepestBranch(
  branches: readonly (readonly z.core.$ZodIssue[])[],
): readonly z.core.$ZodIssue[] | undefined {
  const inside = branches.filter(
    (b) => b.length > 0 && b.every((i) => i.path.length > 0 || i.code === 'unrecognized_keys'),
  );
  return inside.length === 1 ? inside[0] : undefined;
}

/** `field: message` strings (config problems) as problems. */
export function problemsFromStrings(lines: readonly string[]): Problem[] {
  return lines.map((line) => {
    const cut = line.indexOf(': ');
    return cut < 0
      ? { field: '(root)', message: line }
      : { field: line.slice(0, cut), message: line.slice(cut + 2) };
  });
}

/** Parses `value` with `schema`, or throws every problem by field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AdminProblem(zodProblems(parsed.error));
  return parsed.data;
}

/** The `:id` path parameter (handlers are typed with a plain Context, so Hono cannot infer it). */
export function idParam(c: Context): string {
  return c.req.param('id') ?? '';
}

/** The request's JSON object body; an empty body is `{}` when `optional`. */
export async function readJson(c: Context, options: { optional?: boolean } = {}): Promise<unknown> {
  const bytes = await readRequestBody(c, ADMIN_MAX_BODY_BYTES);
  if (bytes.length === 0 || bytes.toString('utf8').trim() === '') {
    if (options.optional) return {};
    throw new AdminProblem([{ field: '(root)', message: 'expected a JSON object body' }]);
  }
  return parseJsonObject(bytes);
}

export function errorJson(error: GatewayError, problems?: Problem[]): Response {
  const body = errorBody(error, 'openai') as { error: Record<string, unknown> };
  if (problems) body.error.problems = problems;
  const headers = new Headers({ 'content-type': 'application/json', ...error.headers });
  return new Response(JSON.stringify(body), { status: error.status, headers });
}

/** Runs a handler, answering thrown problems and gateway errors in the admin error shape. */
export function handled(handler: (c: Context) => Promise<Response>) {
  return async (c: Context): Promise<Response> => {
    try {
      return await handler(c);
    } catch (error) {
      if (error instanceof AdminProblem) {
        const first = error.problems[0];
        const count = error.problems.length;
        const message = `Invalid request: ${count} problem${count === 1 ? '' : 's'}: ${error.message}`;
        return errorJson(
          new GatewayError('invalid_request', message, { param: first?.field ?? null }),
          error.problems,
        );
      }
      if (error instanceof GatewayError) return errorJson(error);
      if (error instanceof StoreUnavailableError)
        return errorJson(
          new GatewayError(
            'store_unavailable',
            'The store is unavailable; nothing was changed. Retry shortly.',
          ),
        );
      throw error;
    }
  };
}

/** The standard error answers, for route documentation. */
export const commonErrors = {
  401: 'Missing or invalid admin token (the same answer either way).',
  503: 'The store is unavailable; nothing was changed.',
} as const;
