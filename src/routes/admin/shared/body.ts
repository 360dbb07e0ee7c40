/** Reading admin requests: the JSON object body (small: definitions, not payloads) and the `:id`. */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { invalidRequest } from '../../../errors.js';
import { parseJsonObject, readBodyBytes } from '../../../proxy/body.js';

/** Admin bodies are small definitions; anything bigger is a mistake. */
export const ADMIN_MAX_BODY_BYTES = 256 * 1024;

/** The `:id` path parameter (handlers are typed with a plain Context, so Hono cannot infer it). */
export function idParam(c: Context): string {
  return c.req.param('id') ?? '';
}

/** The request's JSON object body; an empty body is `{}` when `optional`. */
export async function readJson(c: Context, options: { optional?: boolean } = {}): Promise<unknown> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const bytes = await readBodyBytes(incoming, c.req.raw, ADMIN_MAX_BODY_BYTES);
  if (bytes.length === 0 || bytes.toString('utf8').trim() === '') {
    if (options.optional) return {};
    throw invalidRequest([{ field: '(root)', message: 'expected a JSON object body' }]);
  }
  return parseJsonObject(bytes);
}
