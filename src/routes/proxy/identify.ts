/** Phase 1: who is calling, read from the client's headers once; the record says who it was. */
import type { Identity } from '../../budget/types.js';
import type { GatewayContext } from '../../http/app.js';
import { identify, type KeyLookup } from '../../http/key-auth.js';
import { clientHeaders, clientIp, headerSource } from '../../http/request.js';
import type { HeaderRecord } from '../../providers/headers.js';
import type { RequestState } from './request-state.js';

export function identifyCaller(
  c: GatewayContext,
  state: RequestState,
  lookupKey: KeyLookup | undefined,
  acceptsQueryKey = false,
): { identity: Identity; headers: HeaderRecord } {
  const config = c.get('config');
  const headers = clientHeaders(c);
  if (acceptsQueryKey) moveQueryKey(c, headers);
  const identity = identify(config, headerSource(headers), clientIp(c, config), lookupKey);
  state.record.keyId = identity.keyId;
  state.record.anonymous = identity.anonymous;
  state.record.team = identity.team ?? null;
  state.record.session = sessionOf(headers);
  c.set('identity', identity);
  return { identity, headers };
}

/**
 * Google's `?key=` convention: the key is read as if sent in `x-goog-api-key` (a header the client
 * did send wins). It never goes further: headers.ts keeps that header from the provider, the
 * upstream path is built without the client's query, and the record keeps the endpoint, not the URL.
 */
function moveQueryKey(c: GatewayContext, headers: HeaderRecord): void {
  if (headers.authorization || headers['x-api-key'] || headers['x-goog-api-key']) return;
  const key = c.req.query('key');
  if (key) headers['x-goog-api-key'] = key;
}

/** Session ids are opaque client values: kept only when short and plain (bounded, log-safe). */
const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The agent session of a request: Claude Code's X-Claude-Code-Session-Id (a UUID per session). */
export function sessionOf(headers: HeaderRecord): string | null {
  const value = headers['x-claude-code-session-id'];
  return value !== undefined && SESSION_ID.test(value) ? value : null;
}
