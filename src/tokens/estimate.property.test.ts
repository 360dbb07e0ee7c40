import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ApiShape } from '../providers/types.js';
import { promptTokens } from './estimate.js';

const shapes: ApiShape[] = ['chat', 'completions', 'embeddings', 'responses', 'messages'];
const models = [
  'gpt-4o',
  'gpt-4o-mini',
  'gpt-4',
  'text-embedding-3-small',
  'claude-sonnet-4-5',
  'o4-mini',
  'x',
];

/** JSON-ish values biased towards the field names the estimators look at. */
const fieldName = fc.constantFrom(
  'role',
  'content',
  'name',
  'type',
  'text',
  'tool_calls',
  'function',
  'arguments',
  'image_url',
  'detail',
  'input_audio',
  'data',
  'format',
  'file',
  'file_data',
  'source',
  'input',
  'output',
  'summary',
  'tools',
  'parameters',
  'input_schema',
  'system',
  'messages',
  'prompt',
  'instructions',
  'media_type',
  'other',
);
const typeName = fc.constantFrom(
  'text',
  'image_url',
  'input_audio',
  'file',
  'image',
  'document',
  'tool_use',
  'tool_result',
  'function',
  'message',
  'function_call',
  'function_call_output',
  'reasoning',
  'input_text',
  'input_image',
  'input_file',
  'json_schema',
  'base64',
  'content',
  'url',
  'thinking',
  'item_reference',
  'unknown',
);
const { value: jsonish } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string(),
    fc.integer(),
    fc.double({ noNaN: false }),
    fc.boolean(),
    fc.constant(null),
    typeName,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fieldName, tie('value'), { maxKeys: 5 }),
  ),
}));
const body = fc.dictionary(fieldName, jsonish, { maxKeys: 6 });

const message = fc.oneof(
  fc.record({ role: fc.constantFrom('user', 'assistant', 'system', 'tool'), content: jsonish }),
  fc.record({ type: typeName, content: jsonish, text: fc.string() }),
  jsonish,
);

describe('promptTokens properties', () => {
  it('never throws and is never negative on arbitrary JSON-ish bodies', () => {
    fc.assert(
      fc.property(fc.constantFrom(...shapes), fc.constantFrom(...models), body, (shape, model, b) => {
        const n = promptTokens(shape, b, model);
        expect(Number.isInteger(n)).toBe(true);
        expect(n).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 500 },
    );
  });

  it('is monotone when a message is appended', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<ApiShape>('chat', 'messages', 'responses'),
        fc.constantFrom(...models),
        fc.array(message, { maxLength: 5 }),
        message,
        (shape, model, history, next) => {
          const field = shape === 'responses' ? 'input' : 'messages';
          const before = promptTokens(shape, { [field]: history }, model);
          const after = promptTokens(shape, { [field]: [...history, next] }, model);
          expect(after).toBeGreaterThanOrEqual(before);
        },
      ),
      { numRuns: 300 },
    );
  });
});
