/**
 * What the edge reads from a request besides its body: the Node request and response behind it
 * (absent under `app.request()` in tests, hence the optional reads), its headers, the client address.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { RuntimeConfig } from '../config/runtime.js';
import { resolveClientIp } from '../limits/client-ip.js';
import { type HeaderRecord, headerRecordFromHeaders, headerRecordFromRaw } from '../providers/headers.js';

/** What identification reads from a request's headers: a Headers object, or the proxy's plain record. */
export interface HeaderSource {
  get(name: string): string | null;
}

/** The Node request, when served by @hono/node-server (admin handlers pass a plain Context too). */
export function nodeRequest(c: Context): IncomingMessage | undefined {
  return c.env?.incoming;
}

export function nodeResponse(c: Context): ServerResponse | undefined {
  return c.env?.outgoing;
}

/** The client's request headers, read once as a plain object (see providers/headers.ts). */
export function clientHeaders(c: Context): HeaderRecord {
  const incoming = nodeRequest(c);
  return incoming ? headerRecordFromRaw(incoming.rawHeaders) : headerRecordFromHeaders(c.req.raw.headers);
}

export function headerSource(headers: HeaderRecord): HeaderSource {
  return { get: (name) => headers[name] ?? null };
}

/** One header, from the Node request when there is one: c.req.header() would build a Headers object. */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = nodeRequest(c);
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

export function clientIp(c: Context, config: RuntimeConfig): string | undefined {
  // The rightmost X-Forwarded-For hop not one of our proxies (src/limits/client-ip.ts says why).
  const trusted = config.limits.trustedProxies;
  const forwarded =
    trusted.length > 0 || config.server.trustProxy ? requestHeader(c, 'x-forwarded-for') : undefined;
  return resolveClientIp(nodeRequest(c)?.socket?.remoteAddress, forwarded, trusted, config.server.trustProxy);
}
