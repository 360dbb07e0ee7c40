/**
 * Turning bad admin input into problems by field, and the two ways a request is rejected for them:
 * a bad body (`validate`, `invalidRequest`: "Invalid request: N problems: ...") and a bad query
 * (`parseQuery`, `invalidQuery`). Both throw; the error boundary renders them.
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import { formatPath } from '../../../config/load.js';
import { GatewayError, invalidRequest, type Problem } from '../../../errors.js';

export function zodProblems(error: z.ZodError, unknownKey = 'unknown field'): Problem[] {
  return issueProblems(error.issues, [], unknownKey);
}

function issueProblems(
  issues: readonly z.core.$ZodIssue[],
  prefix: PropertyKey[],
  unknownKey: string,
): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    const at = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ field: formatPath([...at, key]), message: unknownKey });
    } else if (issue.code === 'invalid_union' && deepestBranch(issue.errors)) {
      // `scope: { team: 1 }` fails both `"global"` and the object; the object branch got further,
      // and its own problem (scope.team) is the one worth reading.
      problems.push(...issueProblems(deepestBranch(issue.errors) ?? [], at, unknownKey));
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

/** Parses a body `value` with `schema`, or throws every problem by field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidRequest(zodProblems(parsed.error));
  return parsed.data;
}

/**
 * A 400 for bad query parameters: every problem in `problems`, the first one's name as `param`.
 * The message is `name: what is wrong` (no "Invalid request" preamble): clients of the query
 * routes have always read it that way.
 */
export function invalidQuery(problems: Problem[]): GatewayError {
  return new GatewayError('invalid_request', problems.map((p) => `${p.field}: ${p.message}`).join('; '), {
    param: problems[0]?.field ?? null,
    problems,
  });
}

/** The request's query parsed with `schema`, or a 400 naming every bad parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, c: Context): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw invalidQuery(zodProblems(parsed.error, 'unknown query parameter'));
  return parsed.data;
}
