/**
 * Who is calling. A virtual key arrives as `Authorization: Bearer <key>`, `x-api-key: <key>` or
 * `x-goog-api-key: <key>` (the SDKs' conventions; Gemini's `?key=` is moved into the last one by
 * the proxy's identify phase); only its SHA-256 is ever compared or stored. Without a key, an anonymous
 * trial identity when the trial is enabled.
 */
import { createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Identity } from '../budget/types.js';
import { ANONYMOUS_KEY_ID } from '../config/compile.js';
import type { RuntimeConfig, RuntimeKey } from '../config/runtime.js';
import { GatewayError } from '../errors.js';
import { verifiedVisitor, visitorOfIp } from '../limits/client-ip.js';
import type { GatewayEnv } from './app.js';
import { clientIp, type HeaderSource } from './request.js';

export function presentedKey(headers: HeaderSource): string | undefined {
  const auth = headers.get('authorization');
  if (auth) {
    const match = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (match?.[1]) return match[1].trim();
  }
  const apiKey = headers.get('x-api-key') ?? headers.get('x-goog-api-key');
  return apiKey ? apiKey.trim() : undefined;
}

/** Extra keys beyond config (API-created, from the store); null when none are known. */
export type KeyLookup = (hash: string) => RuntimeKey | undefined;

/**
 * Hashes of keys presented recently: the same few keys arrive on every request, and a hash does
 * not depend on the config, so reloads need nothing. Bounded; cleared when full.
 */
const recentHashes = new Map<string, string>();
const RECENT_HASHES_MAX = 1024;

export function keyHash(key: string): string {
  let hash = recentHashes.get(key);
  if (hash === undefined) {
    hash = createHash('sha256').update(key).digest('hex');
    if (recentHashes.size >= RECENT_HASHES_MAX) recentHashes.clear();
    recentHashes.set(key, hash);
  }
  return hash;
}

/** Who a known key is; `requestUser` (x-gateway-user) applies when the key has no user of its own. */
export function identityOfKey(key: RuntimeKey, requestUser?: string): Identity {
  return {
    keyId: key.id,
    user: key.user ?? requestUser,
    team: key.team,
    tags: key.tags,
    allowedModels: key.models,
    ...(key.maxChoices !== undefined ? { maxChoices: key.maxChoices } : {}),
    anonymous: false,
  };
}

export function identify(
  config: RuntimeConfig,
  headers: HeaderSource,
  clientIp: string | undefined,
  lookupExtra?: KeyLookup,
): Identity {
  const key = presentedKey(headers);
  if (key !== undefined) {
    const hash = keyHash(key);
    const found = config.keysByHash.get(hash) ?? lookupExtra?.(hash);
    if (!found)
      throw new GatewayError('unauthorized', 'Invalid API key: the gateway does not know this key.');
    return identityOfKey(found, headers.get('x-gateway-user') ?? undefined);
  }
  const anon = config.anonymous;
  if (!anon.enabled) {
    throw new GatewayError(
      'unauthorized',
      'Missing API key: send it as "Authorization: Bearer <key>", "x-api-key" or "x-goog-api-key".',
    );
  }
  const who = trialVisitor(config, headers, clientIp);
  return {
    keyId: ANONYMOUS_KEY_ID,
    // Its own namespace: a trial visitor named "alice" is never the user alice of a real key.
    user: `${ANONYMOUS_USER_PREFIX}${who.slice(0, 200)}`,
    tags: [],
    allowedModels: anon.models,
    anonymous: true,
  };
}

/** Trial user ids start with this, so they never meet a named user's budget line. */
export const ANONYMOUS_USER_PREFIX = 'anon:';

/** The trial visitor: its address (IPv6 by /64), or its header id (checked when ids are signed). */
function trialVisitor(config: RuntimeConfig, headers: HeaderSource, ip: string | undefined): string {
  const by = config.anonymous.identifyBy;
  if (by.kind === 'ip') {
    if (!ip) throw new GatewayError('unauthorized', 'Missing API key; trial use needs the client address.');
    return visitorOfIp(ip);
  }
  const value = headers.get(by.header)?.trim();
  if (!value)
    throw new GatewayError('unauthorized', `Missing API key; trial use needs the ${by.header} header.`);
  const secret = config.limits.visitorSecret;
  if (secret === undefined) return value;
  const id = verifiedVisitor(value, secret);
  if (id === undefined)
    throw new GatewayError(
      'unauthorized',
      `Missing API key; the ${by.header} header is not a signed visitor id.`,
    );
  return id;
}

/**
 * Self-service routes: identifies the caller on the request's config snapshot and sets `identity`;
 * a missing or unknown key is thrown to the error boundary (401 in the client's format).
 */
export function callerIdentity(lookupExtra?: KeyLookup): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const config = c.get('config');
    c.set('identity', identify(config, c.req.raw.headers, clientIp(c, config), lookupExtra));
    await next();
  };
}
