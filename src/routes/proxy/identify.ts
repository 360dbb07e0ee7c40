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

/**
 * The agent session of a request: Claude Code's X-Claude-Code-Session-Id (a UUID per session), or
 * Codex CLI's `session_id` (its conversation id, a UUID: codex-rs/codex-api/src/requests/headers.rs
 * build_conversation_headers). Not a secret: a client-chosen label, kept for usage by session. A
 * value that is not short and plain is dropped (the request is served, the session not recorded).
 */
export function sessionOf(headers: HeaderRecord): string | null {
  for (const name of SESSION_HEADERS) {
    const value = headers[name];
    if (value !== undefined) return SESSION_ID.test(value) ? value : null;
  }
  return null;
}

const SESSION_HEADERS = ['x-claude-code-session-id', 'session_id'] as const;
