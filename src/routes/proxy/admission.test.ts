/**
 * The admission builder's worst case: the output multiplier from the adapter, and the context a
 * Responses call carries by reference (remembered, else the model's context window).
 */
import { describe, expect, it } from 'vitest';
import { identity, model, providers } from '../../budget/fixtures.test-helpers.js';
import {
  chatCompletionsAdapter,
  completionsAdapter,
  embeddingsAdapter,
  responsesAdapter,
} from '../../providers/openai.js';
import { ResponseTokenMemory } from '../../providers/response-memory.js';
import type { EndpointAdapter, RequestBody } from '../../providers/types.js';
import { admissionBuilder, DEFAULT_CONTEXT_WINDOW } from './admission.js';
import { rememberResponse } from './response-context.js';

const mini = model('gpt-4o-mini', providers.openai, 0.15, 0.6, 16384);

function build(adapter: EndpointAdapter, body: RequestBody, responses?: ResponseTokenMemory) {
  return admissionBuilder({ requestId: 'r', identity: identity(), adapter, body, nowMs: 0, responses });
}

describe('output multiplier', () => {
  it.each([
    [chatCompletionsAdapter, { model: 'm', messages: [{ role: 'user', content: 'x' }], n: 10 }, 10],
    [chatCompletionsAdapter, { model: 'm', messages: [{ role: 'user', content: 'x' }] }, 1],
    [completionsAdapter, { model: 'm', prompt: ['a', 'b', 'c'], n: 2, best_of: 5 }, 15],
    [completionsAdapter, { model: 'm', prompt: Array.from({ length: 200 }, () => 'p') }, 200],
    [responsesAdapter, { model: 'm', input: 'x' }, 1],
    [embeddingsAdapter, { model: 'm', input: ['a', 'b'] }, 0],
  ] as const)('%#: %o reserves %i sequences', (adapter, body, multiplier) => {
    expect(build(adapter, { ...body }).request(mini).outputMultiplier).toBe(multiplier);
  });
});

describe("the key's max_choices", () => {
  const chat = (n?: number): RequestBody => ({ model: 'm', messages: [{ role: 'user', content: 'x' }], n });
  const withLimit = (body: RequestBody, adapter: EndpointAdapter = chatCompletionsAdapter) =>
    admissionBuilder({ requestId: 'r', identity: identity({ maxChoices: 2 }), adapter, body, nowMs: 0 });

  it('refuses more choices than the key allows, naming n and the limit', () => {
    expect(() => withLimit(chat(3))).toThrow(
      expect.objectContaining({ code: 'invalid_request', param: 'n' }),
    );
    expect(() => withLimit(chat(3))).toThrow(/at most 2 choices/);
    expect(() => withLimit({ model: 'm', prompt: ['a', 'b', 'c'], n: 3 }, completionsAdapter)).toThrow(
      /n = 3/,
    );
  });

  it('admits the limit, no n, and several prompts of n within it', () => {
    expect(withLimit(chat(2)).request(mini).outputMultiplier).toBe(2);
    expect(withLimit(chat()).request(mini).outputMultiplier).toBe(1);
    expect(
      withLimit({ model: 'm', prompt: ['a', 'b', 'c'], n: 2 }, completionsAdapter).request(mini)
        .outputMultiplier,
    ).toBe(6);
    expect(build(chatCompletionsAdapter, chat(50)).request(mini).outputMultiplier).toBe(50);
  });
});

describe('context carried by reference', () => {
  const body = (extra: RequestBody): RequestBody => ({ model: 'gpt-4o-mini', input: 'Hello', ...extra });
  const own = async (b: RequestBody, memory?: ResponseTokenMemory, m = mini) =>
    build(responsesAdapter, b, memory).request(m).promptTokensFor(m);

  it('adds what a remembered response left behind', async () => {
    const memory = new ResponseTokenMemory();
    rememberResponse(memory, 'resp_1', {
      inputTokens: 900,
      cachedInputTokens: 100,
      cacheWriteTokens: 0,
      outputTokens: 250,
      reasoningTokens: 50,
    });
    const alone = await own(body({}), memory);
    expect(await own(body({ previous_response_id: 'resp_1' }), memory)).toBe(alone + 1250);
  });

  it('reserves the context window for a response it did not serve, and for a conversation', async () => {
    const alone = await own(body({}));
    expect(await own(body({ previous_response_id: 'resp_elsewhere' }), new ResponseTokenMemory())).toBe(
      alone + DEFAULT_CONTEXT_WINDOW,
    );
    expect(await own(body({ conversation: { id: 'conv_1' } }))).toBe(alone + DEFAULT_CONTEXT_WINDOW);
    const small = { ...mini, contextWindow: 8000 };
    expect(await own(body({ previous_response_id: 'resp_elsewhere' }), undefined, small)).toBe(alone + 8000);
  });

  it('remembers nothing without an id or usage', () => {
    const memory = new ResponseTokenMemory();
    rememberResponse(memory, undefined, {
      inputTokens: 1,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 1,
      reasoningTokens: 0,
    });
    rememberResponse(memory, 'resp_2', undefined);
    expect(memory.size).toBe(0);
  });
});
