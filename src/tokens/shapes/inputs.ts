/**
 * Completions `prompt` and Embeddings `input`: a string, a list of strings, a list of token ids,
 * or a list of token-id lists. Token ids are already tokens, so they count as their length.
 * There is no message wrapping, so no overhead.
 */
import type { PromptParts } from '../prompt.js';

export function addPromptInput(parts: PromptParts, input: unknown): void {
  if (input === undefined || input === null) return;
  if (typeof input === 'string') {
    parts.text(input);
    return;
  }
  if (typeof input === 'number') {
    parts.fixed(1);
    return;
  }
  if (Array.isArray(input)) {
    for (const item of input) addPromptInput(parts, item);
    return;
  }
  parts.json(input);
}

export function collectCompletions(parts: PromptParts, body: Record<string, unknown>): void {
  addPromptInput(parts, body.prompt);
  // The suffix is sent to the model after the insertion point: it is prompt too.
  if (typeof body.suffix === 'string') parts.text(body.suffix);
}

export function collectEmbeddings(parts: PromptParts, body: Record<string, unknown>): void {
  addPromptInput(parts, body.input);
}
