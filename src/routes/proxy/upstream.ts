/**
 * Upstream connections: one undici Pool per provider origin, kept across requests and config
 * reloads (rebuilt only when a provider's origin, size or timeouts change). The upstream URL is
 * always the configured base URL plus the endpoint's fixed path: nothing in a request can choose
 * the host.
 */
import { Pool } from 'undici';
import type { RuntimeProvider } from '../../config/runtime.js';

interface PoolEntry {
  signature: string;
  pool: Pool;
}

export class UpstreamPools {
  private readonly pools = new Map<string, PoolEntry>();
  /** The pool last answered for a provider object: a reload makes new objects, so it is re-checked then. */
  private readonly resolved = new WeakMap<RuntimeProvider, Pool>();

  pool(provider: RuntimeProvider): Pool {
    const known = this.resolved.get(provider);
    if (known && this.pools.get(provider.name)?.pool === known) return known;
    const pool = this.poolFor(provider);
    this.resolved.set(provider, pool);
    return pool;
  }

  private poolFor(provider: RuntimeProvider): Pool {
    const origin = new URL(provider.baseUrl).origin;
    const t = provider.timeouts;
    const signature = `${origin}|${provider.connections}|${t.connectMs}|${t.headersMs}|${t.bodyMs}`;
    const existing = this.pools.get(provider.name);
    if (existing && existing.signature === signature) return existing.pool;
    if (existing) void existing.pool.close().catch(() => {});
    const pool = new Pool(origin, {
      connections: provider.connections,
      connect: { timeout: t.connectMs },
      headersTimeout: t.headersMs,
      bodyTimeout: t.bodyMs,
      keepAliveTimeout: 30_000,
      pipelining: 1,
    });
    this.pools.set(provider.name, { signature, pool });
    return pool;
  }

  async close(): Promise<void> {
    const closing = [...this.pools.values()].map((entry) => entry.pool.close().catch(() => {}));
    this.pools.clear();
    await Promise.all(closing);
  }
}

/**
 * The path on the provider for a client path. OpenAI (and compatible) base URLs end in /v1 (as the
 * SDK's do), so the client's /v1 prefix is replaced by the base path; Anthropic and Gemini base URLs
 * are the bare origin. Azure OpenAI base URLs are the resource (https://NAME.openai.azure.com):
 * deployment URLs with `api-version`, or the v1 API (api_version "v1") with the model in the body.
 */
const basePaths = new WeakMap<RuntimeProvider, string>();

/** Azure's deployment routes, by OpenAI client path; other paths use Azure's v1-style routes. */
const AZURE_DEPLOYMENT_ROUTES: Readonly<Record<string, string>> = {
  '/v1/chat/completions': '/chat/completions',
  '/v1/completions': '/completions',
  '/v1/embeddings': '/embeddings',
};

export function upstreamPath(provider: RuntimeProvider, clientPath: string, upstreamModel: string): string {
  let basePath = basePaths.get(provider);
  if (basePath === undefined) {
    basePath = new URL(provider.baseUrl).pathname.replace(/\/+$/, '');
    basePaths.set(provider, basePath);
  }
  if (provider.kind === 'azure') return basePath + azurePath(provider, clientPath, upstreamModel);
  if (provider.kind === 'openai' || provider.kind === 'openai-compatible') {
    return basePath + clientPath.replace(/^\/v1/, '');
  }
  return basePath + clientPath;
}

function azurePath(provider: RuntimeProvider, clientPath: string, upstreamModel: string): string {
  const version = provider.apiVersion ?? 'v1';
  if (version === 'v1') return `/openai/v1${clientPath.replace(/^\/v1/, '')}`;
  const query = `?api-version=${encodeURIComponent(version)}`;
  const route = AZURE_DEPLOYMENT_ROUTES[clientPath];
  if (route === undefined) return `/openai${clientPath.replace(/^\/v1/, '')}${query}`;
  const deployment = provider.deployments?.[upstreamModel] ?? upstreamModel;
  return `/openai/deployments/${encodeURIComponent(deployment)}${route}${query}`;
}

/**
 * The one query parameter a client may pass on: Anthropic's `beta=true`, which Claude Code (and the
 * SDK's `client.beta.messages`) put on /v1/messages. Anything else in the query is dropped, so the
 * upstream URL stays the configured base plus a fixed path.
 */
export function upstreamQuery(provider: RuntimeProvider, clientUrl: string): string {
  if (provider.kind !== 'anthropic') return '';
  const at = clientUrl.indexOf('?');
  if (at < 0) return '';
  return new URLSearchParams(clientUrl.slice(at + 1)).get('beta') === 'true' ? '?beta=true' : '';
}
