/**
 * Remembering what a served Responses call leaves behind, so a follow-up with
 * `previous_response_id` is reserved for the context the provider carries over (admission.ts,
 * carriedContext) instead of the model's whole context window; and whom it was served to, so
 * GET /v1/responses/{id} answers that caller only (response-retrieve.ts).
 */
import {
  contextTokensOf,
  type ResponseTokenMemory,
  responseOwner,
  type ServedResponse,
} from '../../providers/response-memory.js';
import type { Usage } from '../../usage.js';
import type { Exchange } from './exchange.js';

/**
 * Call once a response is settled: `id` from adapter.responseIdFromJson(json) (plain answers) or
 * tap.responseId() (streams), `usage` the usage it was settled at, `served` from servedTo().
 * Nothing happens without a memory, an id or usage (other APIs answer no id).
 */
export function rememberResponse(
  memory: ResponseTokenMemory | undefined,
  id: string | undefined,
  usage: Usage | undefined,
  served?: ServedResponse,
): void {
  if (memory === undefined || id === undefined || usage === undefined) return;
  memory.remember(id, contextTokensOf(usage), served);
}

/** The caller of an exchange and the provider that answered it; undefined when the caller is not one to tell apart. */
export function servedTo(exchange: Exchange, providerName: string): ServedResponse | undefined {
  const owner = responseOwner(exchange.c.get('identity'));
  return owner === undefined ? undefined : { owner, provider: providerName };
}
