/**
 * Completions `prompt` and Embeddings `input`: a string, a list of strings, a list of token ids,
 * or a list of token-id lists. Token ids are already tokens, so they count as their length.
 * There is no message wrapping, so no overhead.
 */
import { promptCount } from '../../providers/worst-case.js';
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

/** Every prompt of a batch is billed; the suffix goes with each of them. */
export function collectCompletions(parts: PromptParts, body: Record<string, unknown>): void {
  addPromptInput(parts, body.prompt);
  // The suffix is sent to the model after the insertion point: it is prompt too, once per prompt.
  if (typeof body.suffix === 'string' && body.suffix.length > 0) {
    const prompts = promptCount(body.prompt);
    for (let i = 0; i < prompts; i++) parts.text(body.suffix);
  }
}

export function collectEmbeddings(parts: PromptParts, body: Record<string, unknown>): void {
  addPromptInput(parts, body.input);
}
