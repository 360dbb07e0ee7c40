/**
 * Who is calling. A virtual key arrives as `Authorization: Bearer <key>` or `x-api-key: <key>` (the
 * two SDKs' conventions); only its SHA-256 is ever compared or stored. Without a key, an anonymous
 * trial identity when the trial is enabled.
 */
import { createHash } from 'node:crypto';
import type { Identity } from '../budget/types.js';
import { ANONYMOUS_KEY_ID } from '../config/compile.js';
import type { RuntimeConfig, RuntimeKey } from '../config/runtime.js';
import { GatewayError } from '../errors.js';

export function presentedKey(headers: Headers): string | undefined {
  const auth = headers.get('authorization');
  if (auth) {
    const match = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (match?.[1]) return match[1].trim();
  }
  const apiKey = headers.get('x-api-key');
  return apiKey ? apiKey.trim() : undefined;
}

/** Extra keys beyond config (API-created, from the store); null when none are known. */
export type KeyLookup = (hash: string) => RuntimeKey | undefined;

export function keyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function identify(
  config: RuntimeConfig,
  headers: Headers,
  clientIp: string | undefined,
  lookupExtra?: KeyLookup,
): Identity {
  const key = presentedKey(headers);
  if (key !== undefined) {
    const hash = keyHash(key);
    const found = config.keysByHash.get(hash) ?? lookupExtra?.(hash);
    if (!found)
      throw new GatewayError('unauthorized', 'Invalid API key: the gateway does not know this key.');
    return {
      keyId: found.id,
      user: found.user ?? headers.get('x-gateway-user') ?? undefined,
      team: found.team,
      tags: found.tags,
      allowedModels: found.models,
      anonymous: false,
    };
  }
  const anon = config.anonymous;
  if (!anon.enabled) {
    throw new GatewayError(
      'unauthorized',
      'Missing API key: send it as "Authorization: Bearer <key>" or "x-api-key".',
    );
  }
  const who = anon.identifyBy.kind === 'ip' ? clientIp : (headers.get(anon.identifyBy.header) ?? undefined);
  if (!who) {
    const how = anon.identifyBy.kind === 'ip' ? 'the client address' : `the ${anon.identifyBy.header} header`;
    throw new GatewayError('unauthorized', `Missing API key; trial use needs ${how}.`);
  }
  return {
    keyId: ANONYMOUS_KEY_ID,
    user: who.slice(0, 200),
    tags: [],
    allowedModels: anon.models,
    anonymous: true,
  };
}
