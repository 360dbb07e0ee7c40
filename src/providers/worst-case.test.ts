import { describe, expect, it } from 'vitest';
import { promptTokens } from '../tokens/estimate.js';
import { MIN_THINKING_BUDGET } from './anthropic.js';
import {
  chatCompletionsAdapter as chat,
  completionsAdapter as completions,
  embeddingsAdapter as embeddings,
  messagesAdapter as messages,
  responsesAdapter as responses,
} from './index.js';
import type { RequestBody } from './types.js';

const chatBody = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
const legacy = { model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi' };
const claude = { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4000 };

describe('worstCase: output sequences the provider can bill', () => {
  it('chat bills every one of n choices', () => {
    expect(chat.worstCase(chatBody).outputMultiplier).toBe(1);
    expect(chat.worstCase({ ...chatBody, n: 10 })).toEqual({
      outputMultiplier: 10,
      prompts: 1,
      generatedPerPrompt: 10,
      returnedPerPrompt: 10,
    });
    expect(chat.worstCase({ ...chatBody, n: null }).outputMultiplier).toBe(1);
  });

  it('completions bill best_of per prompt, for every prompt of a batch', () => {
    expect(completions.worstCase(legacy).outputMultiplier).toBe(1);
    expect(completions.worstCase({ ...legacy, n: 3 }).outputMultiplier).toBe(3);
    expect(completions.worstCase({ ...legacy, n: 2, best_of: 5 })).toEqual({
      outputMultiplier: 5,
      prompts: 1,
      generatedPerPrompt: 5,
      returnedPerPrompt: 2,
    });
    const batch = Array.from({ length: 200 }, (_, i) => `prompt ${i}`);
    expect(completions.worstCase({ ...legacy, prompt: batch }).outputMultiplier).toBe(200);
    expect(completions.worstCase({ ...legacy, prompt: batch, n: 2, best_of: 3 }).outputMultiplier).toBe(600);
    // Token ids: an array of numbers is one prompt, an array of token arrays is one per array.
    expect(completions.worstCase({ ...legacy, prompt: [1, 2, 3] }).prompts).toBe(1);
    expect(completions.worstCase({ ...legacy, prompt: [[1, 2], [3], [4]] }).prompts).toBe(3);
    // Never below n, even on a body validate() would refuse.
    expect(completions.worstCase({ ...legacy, n: 4, best_of: 2 }).outputMultiplier).toBe(4);
  });

  it('responses and messages have one output; embeddings none', () => {
    expect(responses.worstCase({ model: 'gpt-4o', input: 'hi', n: 5 }).outputMultiplier).toBe(1);
    expect(messages.worstCase({ ...claude, n: 5 }).outputMultiplier).toBe(1);
    expect(
      embeddings.worstCase({ model: 'text-embedding-3-small', input: ['a', 'b'] }).outputMultiplier,
    ).toBe(0);
  });
});

function expectParam(error: ReturnType<typeof chat.validate>, param: string): void {
  expect(error?.status).toBe(400);
  expect(error?.param).toBe(param);
  expect(error?.message).toContain(`'${param}'`);
}

describe('validate: n and best_of as OpenAI answers them', () => {
  it.each([
    [{ ...chatBody, n: 0 }, 'n'],
    [{ ...chatBody, n: 1.5 }, 'n'],
    [{ ...chatBody, n: '2' }, 'n'],
    [{ ...chatBody, n: 129 }, 'n'],
  ])('chat refuses %j', (body, param) => expectParam(chat.validate(body), param));

  it('chat accepts n from 1 to 128', () => {
    expect(chat.validate({ ...chatBody, n: 1 })).toBeNull();
    expect(chat.validate({ ...chatBody, n: 128 })).toBeNull();
  });

  it.each([
    [{ ...legacy, n: 0 }, 'n'],
    [{ ...legacy, n: 129 }, 'n'],
    [{ ...legacy, best_of: 0 }, 'best_of'],
    [{ ...legacy, best_of: 21 }, 'best_of'],
    [{ ...legacy, best_of: 2.5 }, 'best_of'],
    [{ ...legacy, n: 3, best_of: 2 }, 'best_of'],
    [{ ...legacy, best_of: 2, stream: true }, 'best_of'],
    [{ ...legacy, prompt: ['a', 1] }, 'prompt'],
    [{ ...legacy, prompt: [[1], 'a'] }, 'prompt'],
  ])('completions refuse %j', (body, param) => expectParam(completions.validate(body), param));

  it('completions accept best_of >= n and one completion streamed', () => {
    expect(completions.validate({ ...legacy, n: 2, best_of: 2 })).toBeNull();
    expect(completions.validate({ ...legacy, n: 2, best_of: 20 })).toBeNull();
    expect(completions.validate({ ...legacy, best_of: 1, stream: true })).toBeNull();
    expect(completions.validate({ ...legacy, n: 4, stream: true, prompt: ['a', 'b'] })).toBeNull();
  });
});

describe('pricingProblem: modifiers the gateway has no price for', () => {
  it('refuses priority and flex service tiers, accepts auto and default', () => {
    expectParam(chat.validate({ ...chatBody, service_tier: 'priority' }), 'service_tier');
    expectParam(responses.validate({ model: 'o3', input: 'hi', service_tier: 'flex' }), 'service_tier');
    expectParam(completions.validate({ ...legacy, service_tier: 'scale' }), 'service_tier');
    for (const tier of ['auto', 'default', null]) {
      expect(chat.validate({ ...chatBody, service_tier: tier })).toBeNull();
      expect(chat.pricingProblem({ ...chatBody, service_tier: tier })).toBeNull();
    }
  });

  it('refuses tools and outputs billed per call or at other prices', () => {
    expectParam(chat.validate({ ...chatBody, web_search_options: {} }), 'web_search_options');
    expectParam(chat.validate({ ...chatBody, modalities: ['text', 'audio'] }), 'modalities');
    expectParam(chat.validate({ ...chatBody, audio: { voice: 'alloy', format: 'wav' } }), 'audio');
    const fn = { type: 'function', name: 'f', parameters: {} };
    expect(responses.validate({ model: 'gpt-4o', input: 'hi', tools: [fn] })).toBeNull();
    for (const type of [
      'web_search',
      'web_search_preview',
      'file_search',
      'code_interpreter',
      'image_generation',
    ]) {
      expectParam(
        responses.validate({ model: 'gpt-4o', input: 'hi', tools: [fn, { type }] }),
        'tools[1].type',
      );
    }
    expectParam(
      messages.validate({
        ...claude,
        tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 5 }],
      }),
      'tools[0].type',
    );
    expectParam(
      messages.validate({ ...claude, tools: [{ type: 'code_execution_20250825' }] }),
      'tools[0].type',
    );
    expect(
      messages.validate({ ...claude, tools: [{ name: 'f', input_schema: { type: 'object' } }] }),
    ).toBeNull();
  });

  it('refuses 1-hour cache writes wherever Anthropic reads cache_control, accepts the 5-minute default', () => {
    const oneHour = { type: 'ephemeral', ttl: '1h' };
    const fiveMinutes = { type: 'ephemeral', ttl: '5m' };
    const block = (cache_control: unknown) => ({ type: 'text', text: 'ctx', cache_control });
    expectParam(messages.validate({ ...claude, system: [block(oneHour)] }), 'system[0].cache_control.ttl');
    expectParam(
      messages.validate({ ...claude, messages: [{ role: 'user', content: [block({}), block(oneHour)] }] }),
      'messages[0].content[1].cache_control.ttl',
    );
    expectParam(
      messages.validate({ ...claude, tools: [{ name: 'f', input_schema: {}, cache_control: oneHour }] }),
      'tools[0].cache_control.ttl',
    );
    expectParam(
      messages.validate({
        ...claude,
        messages: [
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: 't', content: [block(oneHour)] }],
          },
        ],
      }),
      'messages[0].content[0].content[0].cache_control.ttl',
    );
    expectParam(messages.validate({ ...claude, cache_control: oneHour }), 'cache_control.ttl');
    expect(
      messages.validate({
        ...claude,
        system: [block(fiveMinutes)],
        messages: [{ role: 'user', content: [block({ type: 'ephemeral' })] }],
      }),
    ).toBeNull();
  });

  it('never throws on odd shapes', () => {
    const odd: RequestBody = {
      tools: 'x',
      system: 5,
      messages: [null, [], { content: { cache_control: 1 } }],
    };
    for (const adapter of [chat, completions, embeddings, responses, messages]) {
      expect(() => adapter.pricingProblem(odd)).not.toThrow();
      expect(() => adapter.worstCase(odd)).not.toThrow();
    }
  });
});

describe('chat with both cap fields', () => {
  it('asks for the larger and writes the grant into both', () => {
    const body: RequestBody = { ...chatBody, max_completion_tokens: 300, max_tokens: 16000 };
    expect(chat.requestedOutputCap(body)).toBe(16000);
    expect(chat.requestedOutputCap({ max_completion_tokens: 900, max_tokens: 10 })).toBe(900);
    chat.setOutputCap(body, 300, 'max_completion_tokens');
    expect(body).toMatchObject({ max_completion_tokens: 300, max_tokens: 300 });
    // A fallback attempt rewrites the same body: still both, never the larger.
    chat.setOutputCap(body, 120, 'max_tokens');
    expect(body).toMatchObject({ max_completion_tokens: 120, max_tokens: 120 });
  });

  it('with one field (or the other null), sends only the served model field', () => {
    const body: RequestBody = { ...chatBody, max_tokens: 50, max_completion_tokens: null };
    expect(chat.requestedOutputCap(body)).toBe(50);
    chat.setOutputCap(body, 50, 'max_completion_tokens');
    expect(body.max_completion_tokens).toBe(50);
    expect('max_tokens' in body).toBe(false);
  });
});

describe('Anthropic thinking under a lowered max_tokens', () => {
  const thinking = (budget_tokens: number) => ({
    ...claude,
    max_tokens: 20000,
    thinking: { type: 'enabled', budget_tokens },
  });

  it('leaves a budget already below the cap alone', () => {
    const body: RequestBody = thinking(8000);
    messages.setOutputCap(body, 10000, 'max_tokens');
    expect(body).toMatchObject({ max_tokens: 10000, thinking: { type: 'enabled', budget_tokens: 8000 } });
  });

  it('lowers the budget to cap - 1', () => {
    const body: RequestBody = thinking(16000);
    messages.setOutputCap(body, 4000, 'max_tokens');
    expect(body).toMatchObject({ max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 3999 } });
    const edge: RequestBody = thinking(16000);
    messages.setOutputCap(edge, MIN_THINKING_BUDGET + 1, 'max_tokens');
    expect(edge.thinking).toEqual({ type: 'enabled', budget_tokens: MIN_THINKING_BUDGET });
  });

  it('turns thinking off when the cap leaves less than the 1024 minimum', () => {
    const body: RequestBody = thinking(2048);
    messages.setOutputCap(body, MIN_THINKING_BUDGET, 'max_tokens');
    expect(body.max_tokens).toBe(MIN_THINKING_BUDGET);
    expect('thinking' in body).toBe(false);
  });

  it('leaves disabled, adaptive or malformed thinking to the provider', () => {
    for (const value of [{ type: 'disabled' }, { type: 'adaptive' }, { type: 'enabled' }, 'on']) {
      const body: RequestBody = { ...claude, thinking: value };
      messages.setOutputCap(body, 500, 'max_tokens');
      expect(body.thinking).toEqual(value);
    }
  });
});

describe('conversation state and response ids', () => {
  it('exposes previous_response_id and conversation for Responses', () => {
    expect(responses.conversationState({ model: 'm', previous_response_id: 'resp_1' })).toEqual({
      previousResponseId: 'resp_1',
    });
    expect(responses.conversationState({ model: 'm', conversation: 'conv_1' })).toEqual({
      conversationId: 'conv_1',
    });
    expect(responses.conversationState({ model: 'm', conversation: { id: 'conv_2' } })).toEqual({
      conversationId: 'conv_2',
    });
    expect(responses.conversationState({ model: 'm', previous_response_id: '' })).toEqual({});
    expect(chat.conversationState({ ...chatBody, previous_response_id: 'resp_1' })).toEqual({});
    expect(messages.conversationState(claude)).toEqual({});
  });

  it('reads the response id of a Responses JSON answer only', () => {
    expect(responses.responseIdFromJson({ id: 'resp_9', object: 'response' })).toBe('resp_9');
    expect(responses.responseIdFromJson({ id: 5 })).toBeUndefined();
    expect(chat.responseIdFromJson({ id: 'chatcmpl-1' })).toBeUndefined();
  });
});

describe('prompt tokens of a completions batch', () => {
  it('counts every prompt, and the suffix once per prompt', () => {
    const model = 'gpt-3.5-turbo-instruct';
    const one = promptTokens('completions', { model, prompt: 'The quick brown fox' }, model);
    expect(promptTokens('completions', { model, prompt: Array(5).fill('The quick brown fox') }, model)).toBe(
      5 * one,
    );
    const suffix = promptTokens('completions', { model, prompt: '', suffix: ' jumps over' }, model);
    expect(
      promptTokens(
        'completions',
        { model, prompt: ['The quick brown fox', 'The quick brown fox'], suffix: ' jumps over' },
        model,
      ),
    ).toBe(2 * one + 2 * suffix);
    expect(
      promptTokens(
        'completions',
        {
          model,
          prompt: [
            [1, 2, 3],
            [4, 5],
          ],
        },
        model,
      ),
    ).toBe(5);
  });
});
