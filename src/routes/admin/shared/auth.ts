/**
 * Admin authentication: `Authorization: Bearer <admin token>`, compared in constant time. An empty
 * configured token turns the admin API off (every call 401). The answer never says which part was
 * wrong (missing header, wrong scheme, wrong token all read the same).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { RuntimeConfig } from '../../../config/runtime.js';
import { errorResponse, GatewayError } from '../../../errors.js';

/** Constant-time equality of two secrets of any length (hashing first equalises lengths). */
export function secretEquals(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

export function adminAuth(config: () => RuntimeConfig): MiddlewareHandler {
  return async (c, next) => {
    const expected = config().adminToken;
    const given = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]?.trim() ?? '';
    if (!expected || !given || !secretEquals(given, expected)) {
      return errorResponse(
        new GatewayError('unauthorized', 'Admin API: missing or invalid admin token.'),
        'openai',
      );
    }
    await next();
  };
}
