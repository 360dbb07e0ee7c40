/**
 * Admin authentication: `Authorization: Bearer <admin token>`, compared in constant time. An empty
 * configured token turns the admin API off (every call 401). The answer never says which part was
 * wrong (missing header, wrong scheme, wrong token all read the same).
 */
import type { MiddlewareHandler } from 'hono';
import type { RuntimeConfig } from '../../../config/runtime.js';
import { errorResponse, GatewayError } from '../../../errors.js';
import { clientIp } from '../../../http/request.js';
import { FailedAttempts } from '../../../limits/attempts.js';

import { secretEquals } from '../../../security/secret-equals.js';

export { secretEquals };

/** Default of admin.max_failed_attempts_per_minute, for configs built without the [limits] block. */
const DEFAULT_MAX_FAILED = 10;

export function adminAuth(
  config: () => RuntimeConfig,
  attempts: FailedAttempts = new FailedAttempts(),
): MiddlewareHandler {
  return async (c, next) => {
    const cfg = config();
    const expected = cfg.adminToken;
    // Throttled per client before the token is compared: guessing costs the guesser, not us.
    const client = (cfg.limits ? clientIp(c, cfg) : undefined) ?? 'unknown';
    const maxFailed = cfg.limits?.adminFailedAttemptsPerMinute ?? DEFAULT_MAX_FAILED;
    const waitMs = attempts.blockedForMs(client, maxFailed);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      return errorResponse(
        new GatewayError(
          'rate_limit_exceeded',
          `Admin API: too many failed attempts; retry in ${seconds} s.`,
          {
            headers: { 'retry-after': String(seconds), 'x-should-retry': 'false' },
          },
        ),
        'openai',
      );
    }
    const given = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]?.trim() ?? '';
    if (!expected || !given || !secretEquals(given, expected)) {
      attempts.fail(client);
      return errorResponse(
        new GatewayError('unauthorized', 'Admin API: missing or invalid admin token.'),
        'openai',
      );
    }
    await next();
  };
}
