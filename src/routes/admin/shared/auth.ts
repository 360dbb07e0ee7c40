/**
 * Admin authentication: `Authorization: Bearer <admin token>`, compared in constant time. An empty
 * configured token turns the admin API off (every call 401). The answer never says which part was
 * wrong (missing header, wrong scheme, wrong token all read the same).
 */
import type { MiddlewareHandler } from 'hono';
import type { RuntimeConfig } from '../../../config/runtime.js';
import { errorResponse, GatewayError } from '../../../errors.js';

import { secretEquals } from '../../../security/secret-equals.js';

export { secretEquals };

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
