/**
 * The request-context middleware: before any route runs it sets the request id, the API format
 * errors are answered in, and the config snapshot the request runs on (app.ts GatewayVariables).
 */
import { randomBytes } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { RuntimeConfig } from '../config/runtime.js';
import type { ApiFormat } from '../errors.js';
import { adapters } from '../providers/index.js';
import type { GatewayEnv } from './app.js';
import { requestHeader } from './request.js';

/**
 * Request ids: req_ + 32 hex digits, a random per-process prefix and a counter. Unique across
 * instances (64 random bits each) and in a process, at a fraction of a random UUID's cost.
 */
const REQUEST_ID_PREFIX = `req_${randomBytes(8).toString('hex')}`;
let requestSeq = 0;

export function nextRequestId(): string {
  requestSeq += 1;
  return REQUEST_ID_PREFIX + requestSeq.toString(16).padStart(16, '0');
}

const PROXY_FORMATS = new Map<string, ApiFormat>(adapters.map((adapter) => [adapter.path, adapter.format]));

/**
 * The one rule for the format a client reads its errors in:
 * - a proxy path: its adapter's format (/v1/messages is Anthropic's, the rest OpenAI's);
 * - /admin/*: always OpenAI's (the admin API documents one error shape);
 * - /v1beta/* (the Gemini API): Google's;
 * - any other /v1/messages* path: Anthropic's;
 * - shared routes (/v1/models, /v1/budget, /v1/cost/estimate, unknown paths): Anthropic's when the
 *   client sends `anthropic-version` (Anthropic's SDK always does), else OpenAI's.
 * One refinement, made by the route itself: /v1/cost/estimate answers in the format of the endpoint
 * its body names, once the body is read (routes/self/estimate.ts).
 */
export function apiFormatOf(path: string, anthropicVersion: string | undefined): ApiFormat {
  const proxied = PROXY_FORMATS.get(path);
  if (proxied) return proxied;
  if (path.startsWith('/admin')) return 'openai';
  if (path.startsWith('/v1beta/')) return 'google';
  if (path.startsWith('/v1/messages')) return 'anthropic';
  return anthropicVersion !== undefined ? 'anthropic' : 'openai';
}

export function requestContext(config: () => RuntimeConfig): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const path = c.req.path;
    c.set('requestId', nextRequestId());
    // Proxy paths are decided without reading a header (the hot path reads headers once, raw).
    const format = PROXY_FORMATS.get(path) ?? apiFormatOf(path, requestHeader(c, 'anthropic-version'));
    c.set('format', format);
    c.set('config', config());
    await next();
  };
}
