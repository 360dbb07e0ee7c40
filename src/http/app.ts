/**
 * The one app type of the gateway. Bindings are @hono/node-server's (`incoming` / `outgoing`, the
 * Node request and response); Variables are what the request-context middleware (context.ts) sets
 * before any route runs, so handlers read them with `c.get` instead of recomputing them.
 */
import type { HttpBindings } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import type { Identity } from '../budget/types.js';
import type { RuntimeConfig } from '../config/runtime.js';
import type { ApiFormat } from '../errors.js';

export interface GatewayVariables {
  /** req_ + 32 hex digits; on every response the gateway writes an error for, and on proxied answers. */
  requestId: string;
  /** The API format errors are answered in (see apiFormatOf in context.ts for the one rule). */
  format: ApiFormat;
  /** The config snapshot this request runs on, start to end, whatever reloads happen meanwhile. */
  config: RuntimeConfig;
  /** The caller, on routes behind `callerIdentity` (self-service) or once the proxy identified it. */
  identity: Identity;
}

export type GatewayEnv = { Bindings: HttpBindings; Variables: GatewayVariables };
export type GatewayApp = Hono<GatewayEnv>;
export type GatewayContext = Context<GatewayEnv>;

export function createGatewayApp(): GatewayApp {
  return new Hono<GatewayEnv>();
}
