/**
 * OpenAI legacy completions (/v1/completions), billed as OpenAI bills them: for each prompt of a
 * batch, `best_of` completions are generated (and billed), `n` of them returned; so
 * completion_tokens = prompts x best_of x tokens per completion. Choices are indexed
 * prompt-major (prompt p's k-th choice has index p * n + k). best_of defaults to n, must be at
 * least n, and an explicit best_of above 1 cannot be streamed, as at OpenAI.
 */
import { invalidRequest } from './errors.js';
import { type Handler, intField, type Json } from './exchange.js';
import { choiceCount, includeUsage, MAX_BEST_OF, MAX_CHOICES, requireModel } from './openai-fields.js';
import { outputSize } from './plan.js';
import { plainInputTokens } from './prompt.js';
import { generatedText, textChunks } from './text.js';

/** Legacy completions generate at most 16 tokens when max_tokens is not sent (OpenAI's default). */
export const LEGACY_DEFAULT_MAX_TOKENS = 16;

/** How many prompts a legacy `prompt` holds (a batch gets choices for each); token ids are one. */
export function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0) return 1;
  return typeof prompt[0] === 'string' || Array.isArray(prompt[0]) ? prompt.length : 1;
}

export const completions: Handler = async (ex, body) => {
  const model = requireModel(ex, body);
  if (model === undefined) return;
  if (body.prompt === undefined) {
    ex.sendError(invalidRequest('openai', "Missing required parameter: 'prompt'.", 'prompt'));
    return;
  }
  const n = choiceCount(ex, body, 'n', MAX_CHOICES);
  if (n === undefined) return;
  const explicitBestOf = body.best_of !== undefined && body.best_of !== null;
  const bestOf = explicitBestOf ? choiceCount(ex, body, 'best_of', MAX_BEST_OF) : n;
  if (bestOf === undefined) return;
  if (bestOf < n) {
    ex.sendError(invalidRequest('openai', 'best_of must be greater than or equal to n', 'best_of'));
    return;
  }
  if (explicitBestOf && bestOf > 1 && body.stream === true) {
    ex.sendError(invalidRequest('openai', 'Cannot stream results with best_of greater than 1.', 'best_of'));
    return;
  }
  const size = outputSize(
    { ...ex.plan, reasoningTokens: 0 },
    intField(body, 'max_tokens') ?? LEGACY_DEFAULT_MAX_TOKENS,
  );
  const prompts = promptCount(body.prompt);
  const returned = n * prompts;
  const finish = size.truncated ? 'length' : 'stop';
  const promptTokens = plainInputTokens(body.prompt, model);
  const id = ex.ids.id('cmpl-');
  const created = ex.ids.created();
  ex.record.id = id;
  const usage = (early?: number) => {
    const completion = early ?? size.textTokens * bestOf * prompts;
    if (early === undefined) {
      ex.record.usage = {
        input_tokens: promptTokens,
        cached_tokens: 0,
        cache_write_tokens: 0,
        output_tokens: completion,
        reasoning_tokens: 0,
      };
    }
    return {
      prompt_tokens: promptTokens,
      completion_tokens: completion,
      total_tokens: promptTokens + completion,
    };
  };

  if (body.stream !== true) {
    const text = generatedText(size.textTokens);
    const choices = [];
    for (let i = 0; i < returned; i++)
      choices.push({ text, index: i, logprobs: null, finish_reason: finish });
    const u = usage();
    ex.record.outputTokensSent = size.textTokens * returned;
    ex.sendJson(200, {
      id,
      object: 'text_completion',
      created,
      model,
      choices,
      usage: u,
      system_fingerprint: null,
    });
    return;
  }

  const withUsage = includeUsage(body);
  const head = { id, object: 'text_completion', created, model, system_fingerprint: null };
  let early = ex.plan.firstChunkUsage;
  const perChoice = (text: string, finishReason: string | null): string => {
    let out = '';
    for (let i = 0; i < returned; i++) {
      const choices = [{ text, index: i, logprobs: null, finish_reason: finishReason }];
      const chunkUsage = early === undefined ? null : usage(early);
      early = undefined;
      const chunk: Json =
        withUsage || chunkUsage !== null ? { ...head, choices, usage: chunkUsage } : { ...head, choices };
      out += `data: ${JSON.stringify(chunk)}\n\n`;
    }
    return out;
  };
  ex.startSse();
  const ok = await ex.streamContent(
    textChunks(size.textTokens, ex.plan.chunks),
    (chunk) => perChoice(chunk.text, null),
    returned,
  );
  if (!ok) return;
  let tail = perChoice('', finish);
  if (withUsage) tail += `data: ${JSON.stringify({ ...head, choices: [], usage: usage() })}\n\n`;
  if (!(await ex.write(`${tail}data: [DONE]\n\n`))) return;
  ex.end();
};
