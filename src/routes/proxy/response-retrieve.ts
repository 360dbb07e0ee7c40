/**
 * GET /v1/responses/{id} (the openai SDK's `responses.retrieve`): a response this gateway served,
 * to the caller it was served to, proxied to the provider that answered it. Free: the response was
 * billed when it was made, so nothing is reserved and no budget moves; the request still gets a
 * record at cost 0 (requests_total, the log line, the ledger), as moderations do.
 *
 * Who may read it comes from the gateway's response memory (response-memory.ts): an id it does not
 * know, or one served to another key (or another trial user), is the same 404 in OpenAI's shape,
 * so the answer never tells that a response exists; it is logged and counted with the unknown
 * paths. The memory is per instance; on a miss the shared store is asked (the owners every
 * instance wrote), so any instance answers; a store that is down is a 503, not a guess.
 * Proxied rather than answered from memory: the gateway keeps no response bodies (nor prompts),
 * and the provider's answer is the authority (a response deleted there is gone).
 */
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.js';
import type { GatewayContext } from '../../http/app.js';
import { knownError } from '../../http/error-boundary.js';
import { clientHeaders } from '../../http/request.js';
import { upstreamHeaderRecord } from '../../providers/headers.js';
import {
  type ResponseTokenMemory,
  responseOwner,
  type ServedResponse,
} from '../../providers/response-memory.js';
import type { RequestObserver } from '../../record.js';
import type { UpstreamDispatch } from './exchange.js';
import { passFree } from './free-pass.js';
import { RequestState } from './request-state.js';
import { upstreamPath } from './upstream.js';

export interface RetrieveDeps {
  pools: UpstreamDispatch;
  observe: RequestObserver;
  clock: () => number;
  responses: ResponseTokenMemory;
  /** The owners every instance wrote (store/response-owners.ts), asked when `responses` misses. */
  owners?: { get(responseId: string): Promise<ServedResponse | undefined> };
  logger: Logger;
  /** Counts a miss with the unknown paths (llm_gateway_unknown_paths_total). */
  onUnknownPath?: (method: string) => void;
}

/** The endpoint as records and metrics name it: the id stays out of labels. */
export const RETRIEVE_ENDPOINT = '/v1/responses/{id}';

/** Ids the message may echo: a provider's ids are plain; anything else is not repeated back. */
const PLAIN_ID = /^[A-Za-z0-9_-]{1,200}$/;

/** Query parameters the retrieval passes on (what OpenAI's retrieve reads besides `stream`). */
const PASSED_QUERY = new Set(['include', 'include[]', 'include_obfuscation']);

function notFound(id: string): GatewayError {
  return new GatewayError(
    'not_found',
    PLAIN_ID.test(id) ? `Response with id '${id}' not found.` : 'Response not found.',
  );
}

function upstreamQueryOf(c: GatewayContext): string {
  const url = new URL(c.req.url);
  if (url.searchParams.get('stream') === 'true') {
    throw new GatewayError(
      'invalid_request',
      'Streamed retrieval is not available through this gateway: retrieve the response without stream.',
      { param: 'stream' },
    );
  }
  const passed = new URLSearchParams();
  for (const [name, value] of url.searchParams) if (PASSED_QUERY.has(name)) passed.append(name, value);
  return passed.toString();
}

export function retrieveResponseHandler(deps: RetrieveDeps) {
  return async (c: GatewayContext): Promise<Response> => {
    const config = c.get('config');
    const identity = c.get('identity');
    const state = new RequestState(c.get('requestId'), RETRIEVE_ENDPOINT, deps.clock());
    state.record.keyId = identity.keyId;
    state.record.anonymous = identity.anonymous;
    state.record.team = identity.team ?? null;
    try {
      const id = c.req.param('id') ?? '';
      const query = upstreamQueryOf(c);
      const served =
        deps.responses.served(id) ?? (PLAIN_ID.test(id) ? await deps.owners?.get(id) : undefined);
      const owner = responseOwner(identity);
      const provider = served ? config.providers.get(served.provider) : undefined;
      if (!served || owner === undefined || served.owner !== owner || !provider) {
        deps.onUnknownPath?.('GET');
        deps.logger.info({
          msg: 'response not found',
          requestId: state.record.requestId,
          keyId: identity.keyId,
          reason: !served ? 'unknown id' : !provider ? 'provider gone' : 'served to another caller',
        });
        throw notFound(id);
      }
      if (!provider.apiKey) {
        throw new GatewayError(
          'provider_not_configured',
          `The provider ${provider.name} has no API key configured on this gateway.`,
        );
      }
      state.record.provider = provider.name;
      const path = upstreamPath(provider, `/v1/responses/${encodeURIComponent(id)}`, '');
      const headers = upstreamHeaderRecord(
        provider.kind,
        provider.apiKey,
        clientHeaders(c),
        provider.headers,
      );
      delete headers['content-length'];
      delete headers['content-type'];
      return await passFree(
        deps.pools,
        provider,
        {
          method: 'GET',
          path: query === '' ? path : `${path}${path.includes('?') ? '&' : '?'}${query}`,
          headers,
          timeoutMs: config.server.requestTimeoutMs,
        },
        state,
      );
    } catch (error) {
      const known = knownError(error);
      state.record.status = known?.status ?? 500;
      state.record.errorCode = known?.code ?? 'internal_error';
      throw error;
    } finally {
      state.finish(deps.observe);
    }
  };
}
