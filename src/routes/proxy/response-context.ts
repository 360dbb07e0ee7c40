/**
 * Remembering what a served Responses call leaves behind, so a follow-up with
 * `previous_response_id` is reserved for the context the provider carries over (admission.ts,
 * carriedContext) instead of the model's whole context window.
 */
import { contextTokensOf, type ResponseTokenMemory } from '../../providers/response-memory.js';
import type { Usage } from '../../usage.js';

/**
 * Call once a response is settled: `id` from adapter.responseIdFromJson(json) (plain answers) or
 * tap.responseId() (streams), `usage` the usage it was settled at. Nothing happens without a
 * memory, an id or usage (other APIs answer no id).
 */
export function rememberResponse(
  memory: ResponseTokenMemory | undefined,
  id: string | undefined,
  usage: Usage | undefined,
): void {
  if (memory === undefined || id === undefined || usage === undefined) return;
  memory.remember(id, contextTokensOf(usage));
}
