/**
 * POST /v1/moderations: passed through to an OpenAI provider. Moderation is free (the catalogue
 * prices it at nothing), so nothing is reserved; the request still gets a record (requests_total,
 * the log line, the ledger) at cost 0, so it is counted like every other call.
 * The provider: the one serving the body's `model` when that is a configured model, else the first
 * `kind: openai` provider in the config. The upstream URL is that provider's base plus the fixed path.
 */
import type { RuntimeConfig, RuntimeProvider } from '../../config/runtime.js';
import { GatewayError } from '../../errors.js';
import type { GatewayContext } from '../../http/app.js';
import { parseJsonObject, readRequestBody, requireJsonContentType } from '../../http/body.js';
import { clientHeaders } from '../../http/request.js';
import { upstreamHeaderRecord } from '../../providers/headers.js';
import type { RequestObserver } from '../../record.js';
import type { UpstreamDispatch } from './exchange.js';
import { passFree } from './free-pass.js';
import { RequestState } from './request-state.js';
import { upstreamPath } from './upstream.js';

export interface ModerationDeps {
  pools: UpstreamDispatch;
  observe: RequestObserver;
  clock: () => number;
}

function moderationProvider(config: RuntimeConfig, model: unknown): RuntimeProvider {
  const configured = typeof model === 'string' ? config.models.get(model) : undefined;
  if (configured?.provider.kind === 'openai') return configured.provider;
  const provider = [...config.providers.values()].find((p) => p.kind === 'openai');
  if (!provider) {
    throw new GatewayError(
      'provider_not_configured',
      'No OpenAI provider is configured to answer moderations.',
    );
  }
  return provider;
}

export function moderationsHandler(deps: ModerationDeps) {
  return async (c: GatewayContext): Promise<Response> => {
    const config = c.get('config');
    const identity = c.get('identity');
    const state = new RequestState(c.get('requestId'), '/v1/moderations', deps.clock());
    state.record.keyId = identity.keyId;
    state.record.anonymous = identity.anonymous;
    state.record.team = identity.team ?? null;
    try {
      requireJsonContentType(c.req.raw);
      const bytes = await readRequestBody(c, config.server.maxBodyBytes);
      const body = parseJsonObject(bytes);
      const provider = moderationProvider(config, body.model);
      if (!provider.apiKey) {
        throw new GatewayError(
          'provider_not_configured',
          `The provider ${provider.name} has no API key configured on this gateway.`,
        );
      }
      state.record.provider = provider.name;
      // Only a configured name becomes a metric label: a free-text one would be unbounded.
      const known = typeof body.model === 'string' && config.models.has(body.model) ? body.model : null;
      state.record.requestedModel = known;
      state.record.servedModel = known;
      const payload = Buffer.from(JSON.stringify(body));
      const headers = upstreamHeaderRecord(
        provider.kind,
        provider.apiKey,
        clientHeaders(c),
        provider.headers,
      );
      headers['content-length'] = String(payload.length);
      return await passFree(
        deps.pools,
        provider,
        {
          method: 'POST',
          path: upstreamPath(provider, '/v1/moderations', typeof body.model === 'string' ? body.model : ''),
          headers,
          body: payload,
          timeoutMs: config.server.requestTimeoutMs,
        },
        state,
      );
    } catch (error) {
      state.record.status = error instanceof GatewayError ? error.status : 500;
      state.record.errorCode = error instanceof GatewayError ? error.code : 'internal_error';
      throw error;
    } finally {
      state.finish(deps.observe);
    }
  };
}
