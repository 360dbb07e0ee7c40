/** The adapters by path, and the header helpers the proxy uses around them. */
import { messagesAdapter } from './anthropic.js';
import { chatCompletionsAdapter, completionsAdapter, embeddingsAdapter, responsesAdapter } from './openai.js';
import type { EndpointAdapter } from './types.js';

export { messagesAdapter } from './anthropic.js';
export { DEFAULT_ANTHROPIC_VERSION, responseHeadersForClient, upstreamHeaders } from './headers.js';
export { duplicateKeyError, findDuplicateKey } from './json-keys.js';
export { chatCompletionsAdapter, completionsAdapter, embeddingsAdapter, responsesAdapter } from './openai.js';
export { contextTokensOf, ResponseTokenMemory } from './response-memory.js';
export { type StreamBilling, streamBilling } from './stream-usage.js';
export type * from './types.js';

export const adapters: readonly EndpointAdapter[] = [
  chatCompletionsAdapter,
  completionsAdapter,
  embeddingsAdapter,
  responsesAdapter,
  messagesAdapter,
];

const byPath = new Map(adapters.map((adapter) => [adapter.path, adapter]));

/** The adapter for a request path (a trailing slash is tolerated); undefined for other paths. */
export function adapterForPath(path: string): EndpointAdapter | undefined {
  const exact = byPath.get(path);
  if (exact !== undefined || !path.endsWith('/')) return exact;
  return byPath.get(path.slice(0, -1));
}
