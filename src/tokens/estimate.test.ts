import { describe, expect, it } from 'vitest';
import { promptTokens } from './estimate.js';
import { CLAUDE_IMAGE_TOKENS, imageTokens } from './media.js';
import { tok } from './tokens.test-helpers.js';

const chat = (messages: unknown[], extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o',
  messages,
  ...extra,
});

describe('chat', () => {
  it('counts 3 per message, 1 per name, 3 to prime the reply, plus role/name/content text', () => {
    const body = chat([
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', name: 'bob', content: 'Hi there' },
    ]);
    const text = tok('system') + tok('You are helpful.') + tok('user') + tok('bob') + tok('Hi there');
    expect(promptTokens('chat', body, 'gpt-4o')).toBe(3 * 2 + 1 + 3 + text);
  });

  it("reproduces the OpenAI cookbook's example counts (129 with cl100k, 124 with o200k)", () => {
    const messages = [
      {
        role: 'system',
        content:
          'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.',
      },
      { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
      {
        role: 'system',
        name: 'example_assistant',
        content: 'Things working well together will increase revenue.',
      },
      {
        role: 'system',
        name: 'example_user',
        content:
          "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
      },
      {
        role: 'system',
        name: 'example_assistant',
        content: "Let's talk later when we're less busy about how to do better.",
      },
      {
        role: 'user',
        content: "This late pivot means we don't have time to boil the ocean for the client deliverable.",
      },
    ];
    expect(promptTokens('chat', chat(messages), 'gpt-4')).toBe(129);
    expect(promptTokens('chat', chat(messages), 'gpt-4o')).toBe(124);
  });

  it('counts text parts like string content', () => {
    const asString = promptTokens('chat', chat([{ role: 'user', content: 'alpha beta' }]), 'gpt-4o');
    const asParts = promptTokens(
      'chat',
      chat([{ role: 'user', content: [{ type: 'text', text: 'alpha beta' }] }]),
      'gpt-4o',
    );
    expect(asParts).toBe(asString);
  });

  it('counts tool calls and tool results', () => {
    const base = [{ role: 'user', content: 'weather?' }];
    const withCall = [
      ...base,
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '18C and sunny' },
    ];
    const diff = promptTokens('chat', chat(withCall), 'gpt-4o') - promptTokens('chat', chat(base), 'gpt-4o');
    const expected =
      3 +
      tok('assistant') +
      3 +
      tok('call_1') +
      tok('get_weather') +
      tok('{"city":"Paris"}') +
      (3 + tok('tool') + tok('18C and sunny') + tok('call_1'));
    expect(diff).toBe(expected);
  });

  it('tool definitions add their JSON plus a fixed overhead', () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const parameters = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const tools = [
      { type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters } },
    ];
    const without = promptTokens('chat', chat(messages), 'gpt-4o');
    const withTools = promptTokens('chat', chat(messages, { tools }), 'gpt-4o');
    expect(withTools - without).toBe(
      12 + 7 + tok('get_weather') + tok('Current weather') + tok(JSON.stringify(parameters)),
    );
    // Legacy `functions` count the same.
    const legacy = promptTokens('chat', chat(messages, { functions: [tools[0]!.function] }), 'gpt-4o');
    expect(legacy).toBe(withTools);
  });

  it('counts a json_schema response_format', () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const json_schema = { name: 'answer', schema: { type: 'object', properties: { a: { type: 'number' } } } };
    const diff =
      promptTokens(
        'chat',
        chat(messages, { response_format: { type: 'json_schema', json_schema } }),
        'gpt-4o',
      ) - promptTokens('chat', chat(messages), 'gpt-4o');
    expect(diff).toBe(10 + tok(JSON.stringify(json_schema)));
  });

  it('charges images the worst case for their detail and model', () => {
    const image = (detail?: string) =>
      chat([
        {
          role: 'user',
          content: [
            {
              type: 'image_url',
              image_url: { url: 'https://example.com/a.png', ...(detail ? { detail } : {}) },
            },
          ],
        },
      ]);
    const empty = promptTokens('chat', chat([{ role: 'user', content: [] }]), 'gpt-4o');
    expect(promptTokens('chat', image('low'), 'gpt-4o') - empty).toBe(85);
    expect(promptTokens('chat', image('high'), 'gpt-4o') - empty).toBe(85 + 170 * 8);
    expect(promptTokens('chat', image(), 'gpt-4o') - empty).toBe(85 + 170 * 8);
    const emptyMini = promptTokens('chat', chat([{ role: 'user', content: [] }]), 'gpt-4o-mini');
    expect(promptTokens('chat', image('high'), 'gpt-4o-mini') - emptyMini).toBe(2833 + 5667 * 8);
    expect(promptTokens('chat', image('low'), 'gpt-4o-mini') - emptyMini).toBe(2833);
    // Patch-metered models: detail does not lower the 1536-patch cap.
    expect(imageTokens('gpt-4.1-mini', 'low')).toBe(Math.ceil(1536 * 1.62));
    expect(imageTokens('o1', 'high')).toBe(75 + 150 * 8);
    expect(imageTokens('some-future-model', 'high')).toBe(85 + 170 * 8);
  });

  it('charges inline audio by a duration bound and files by pages', () => {
    const empty = promptTokens('chat', chat([{ role: 'user', content: [] }]), 'gpt-4o');
    // 16 kHz 16-bit mono WAV: 32000 B/s in its header, 2 s of data -> 20 tokens.
    const header = Buffer.alloc(44);
    header.write('RIFF', 0, 'latin1');
    header.write('WAVEfmt ', 8, 'latin1');
    header.writeUInt32LE(32_000, 28);
    const wav = Buffer.concat([header, Buffer.alloc(64_000 - 44)]).toString('base64');
    const audio = chat([
      { role: 'user', content: [{ type: 'input_audio', input_audio: { data: wav, format: 'wav' } }] },
    ]);
    expect(promptTokens('chat', audio, 'gpt-4o') - empty).toBe(20);
    const pdf = Buffer.from(
      '%PDF-1.4\n1 0 obj << /Type /Pages >>\n2 0 obj << /Type /Page >>\n3 0 obj << /Type /Page >>',
    ).toString('base64');
    const file = chat([
      {
        role: 'user',
        content: [{ type: 'file', file: { file_data: `data:application/pdf;base64,${pdf}` } }],
      },
    ]);
    expect(promptTokens('chat', file, 'gpt-4o') - empty).toBe(2 * (3000 + 1445));
  });
});

describe('completions and embeddings', () => {
  it('counts strings, string lists and token ids', () => {
    expect(promptTokens('completions', { prompt: 'Say this is a test' }, 'gpt-3.5-turbo-instruct')).toBe(
      tok('Say this is a test', 'cl100k_base'),
    );
    expect(promptTokens('completions', { prompt: [1, 2, 3, 4] }, 'davinci-002')).toBe(4);
    expect(promptTokens('completions', { prompt: [[1, 2], [3], []] }, 'davinci-002')).toBe(3);
    expect(promptTokens('completions', { prompt: 'a b', suffix: ' c d' }, 'gpt-3.5-turbo-instruct')).toBe(
      tok('a b', 'cl100k_base') + tok(' c d', 'cl100k_base'),
    );
    expect(
      promptTokens('embeddings', { input: ['first text', 'second one'] }, 'text-embedding-3-small'),
    ).toBe(tok('first text', 'cl100k_base') + tok('second one', 'cl100k_base'));
    expect(promptTokens('embeddings', { input: [[5, 6, 7], [8]] }, 'text-embedding-3-small')).toBe(4);
  });

  it('selects cl100k_base or o200k_base by model', () => {
    const text = 'Tokenizers differ: 東京で会いましょう — naïve café ÆØÅ';
    expect(tok(text, 'cl100k_base')).not.toBe(tok(text, 'o200k_base'));
    expect(promptTokens('embeddings', { input: text }, 'text-embedding-3-small')).toBe(
      tok(text, 'cl100k_base'),
    );
    expect(promptTokens('completions', { prompt: text }, 'gpt-4o')).toBe(tok(text, 'o200k_base'));
  });
});

describe('responses', () => {
  it('counts instructions and a string input as messages, roles included', () => {
    const n = promptTokens(
      'responses',
      { model: 'gpt-4o', instructions: 'Be brief.', input: 'Hello' },
      'gpt-4o',
    );
    // As the provider wraps them: { role: "system", content } and { role: "user", content }.
    expect(n).toBe(3 + tok('system') + tok('Be brief.') + 3 + tok('user') + tok('Hello') + 3);
  });

  it('counts items: messages with parts, function calls and outputs, images', () => {
    const body = {
      model: 'gpt-4o',
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'look' },
            { type: 'input_image', image_url: 'x', detail: 'low' },
          ],
        },
        { type: 'function_call', call_id: 'c1', name: 'lookup', arguments: '{"q":1}' },
        { type: 'function_call_output', call_id: 'c1', output: 'found it' },
        { type: 'item_reference', id: 'msg_1' },
      ],
    };
    const expected =
      3 +
      tok('user') +
      tok('look') +
      85 +
      (3 + 3 + tok('c1') + tok('lookup') + tok('{"q":1}')) +
      (3 + tok('c1') + tok('found it')) +
      3;
    expect(promptTokens('responses', body, 'gpt-4o')).toBe(expected);
  });

  it('counts flat function tools and the text.format schema', () => {
    const base = { model: 'gpt-4o', input: 'hi' };
    const parameters = { type: 'object', properties: {} };
    const withTool = { ...base, tools: [{ type: 'function', name: 'f', description: 'd', parameters }] };
    expect(promptTokens('responses', withTool, 'gpt-4o') - promptTokens('responses', base, 'gpt-4o')).toBe(
      12 + 7 + tok('f') + tok('d') + tok(JSON.stringify(parameters)),
    );
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const withFormat = { ...base, text: { format: { type: 'json_schema', name: 'out', schema } } };
    expect(promptTokens('responses', withFormat, 'gpt-4o') - promptTokens('responses', base, 'gpt-4o')).toBe(
      10 + tok(JSON.stringify(schema)) + tok('out'),
    );
  });
});

describe('messages (Anthropic)', () => {
  const model = 'claude-sonnet-4-5';
  it('scales tiktoken counts by the Claude margin and rounds up', () => {
    const body = { model, system: 'Be terse.', messages: [{ role: 'user', content: 'Hello, Claude' }] };
    const text = tok('Be terse.') + tok('user') + tok('Hello, Claude');
    expect(promptTokens('messages', body, model)).toBe(Math.ceil(text * 1.25) + 3 + 3 + 3);
  });

  it('counts system blocks, tool_use and tool_result like their text', () => {
    const asString = promptTokens('messages', { system: 'S', messages: [] }, model);
    const asBlocks = promptTokens('messages', { system: [{ type: 'text', text: 'S' }], messages: [] }, model);
    expect(asBlocks).toBe(asString);
    const base = [{ role: 'user', content: 'hi' }];
    const withTool = [
      ...base,
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'calc', input: { x: 1 } }] },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: '2' }] }],
      },
    ];
    expect(promptTokens('messages', { messages: withTool }, model)).toBeGreaterThan(
      promptTokens('messages', { messages: base }, model),
    );
  });

  it('adds the tool-use system prompt and each tool definition', () => {
    const base = { messages: [{ role: 'user', content: 'hi' }] };
    const input_schema = { type: 'object', properties: { x: { type: 'number' } } };
    const tools = [{ name: 'calc', description: 'adds', input_schema }];
    const textBase = tok('user') + tok('hi');
    const textTools = textBase + tok('calc') + tok('adds') + tok(JSON.stringify(input_schema));
    expect(promptTokens('messages', { ...base, tools }, model) - promptTokens('messages', base, model)).toBe(
      346 + Math.ceil(textTools * 1.25) - Math.ceil(textBase * 1.25),
    );
  });

  it('charges each image the Anthropic worst case, not scaled by the margin', () => {
    const image = {
      type: 'image',
      source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' },
    };
    const without = promptTokens('messages', { messages: [{ role: 'user', content: [] }] }, model);
    const withTwo = promptTokens(
      'messages',
      { messages: [{ role: 'user', content: [image, image] }] },
      model,
    );
    expect(withTwo - without).toBe(2 * CLAUDE_IMAGE_TOKENS);
  });

  it('counts text documents by their text and ignores the thinking config', () => {
    const doc = {
      type: 'document',
      source: { type: 'text', media_type: 'text/plain', data: 'The grass is green.' },
    };
    const body = { messages: [{ role: 'user', content: [doc] }] };
    expect(promptTokens('messages', body, model)).toBe(
      Math.ceil((tok('user') + tok('The grass is green.')) * 1.25) + 6,
    );
    expect(
      promptTokens('messages', { ...body, thinking: { type: 'enabled', budget_tokens: 9999 } }, model),
    ).toBe(promptTokens('messages', body, model));
  });
});

describe('defensive parsing', () => {
  it('counts unknown content shapes as JSON instead of throwing', () => {
    const odd = { messages: [{ role: 'user', content: { weird: true } }, 42, null, 'text'] };
    for (const shape of ['chat', 'responses', 'messages', 'completions', 'embeddings'] as const) {
      expect(() => promptTokens(shape, odd, 'gpt-4o')).not.toThrow();
    }
    expect(promptTokens('chat', { messages: [{ role: 'user', content: { weird: true } }] }, 'gpt-4o')).toBe(
      3 + tok('user') + tok('{"weird":true}') + 3,
    );
  });
});
