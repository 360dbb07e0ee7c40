/**
 * previous_response_id (issue 12, Build 1): a follow-up to a Responses call this gateway served is
 * reserved for the context that response carries over (its input + output), remembered at its
 * settle, plain or streamed; an unknown id is reserved at the model's whole context window.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, type Stack, startStack, TEST_KEY } from '../../../test/helpers/stack.js';
import { DEFAULT_CONTEXT_WINDOW } from './admission.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ mock: { outputTokens: 40 } });
});
afterAll(async () => stack?.close());

function client(): OpenAI {
  return new OpenAI({ apiKey: TEST_KEY, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0 });
}

/** The prompt tokens /v1/cost/estimate would reserve for a follow-up to `previousId`. */
async function followUpPromptTokens(previousId: string): Promise<number> {
  const response = await fetch(`${stack.gateway.url}/v1/cost/estimate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
    body: JSON.stringify({
      endpoint: '/v1/responses',
      model: 'gpt-4o-mini',
      input: 'and then?',
      previous_response_id: previousId,
      max_output_tokens: 16,
    }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { prompt_tokens: number }).prompt_tokens;
}

describe('previous_response_id', () => {
  it('an unknown response is reserved at the model context window', async () => {
    expect(await followUpPromptTokens('resp_never_served_here')).toBeGreaterThanOrEqual(
      DEFAULT_CONTEXT_WINDOW,
    );
  });

  it('a plain response served here is remembered at its settled input + output', async () => {
    const first = await client().responses.create({
      model: 'gpt-4o-mini',
      input: 'hello there',
      max_output_tokens: 64,
    });
    const carried = (first.usage?.input_tokens ?? 0) + (first.usage?.output_tokens ?? 0);
    expect(carried).toBeGreaterThan(0);
    const tokens = await followUpPromptTokens(first.id);
    expect(tokens).toBeGreaterThanOrEqual(carried);
    expect(tokens).toBeLessThan(carried + 100);
  });

  it('a streamed response is remembered too, once its stream settled', async () => {
    const recordsBefore = stack.records.length;
    const stream = await client().responses.create({
      model: 'gpt-4o-mini',
      input: 'stream it',
      max_output_tokens: 64,
      stream: true,
    });
    let id = '';
    let carried = 0;
    for await (const event of stream) {
      if (event.type === 'response.completed') {
        id = event.response.id;
        carried = (event.response.usage?.input_tokens ?? 0) + (event.response.usage?.output_tokens ?? 0);
      }
    }
    expect(id).not.toBe('');
    // The record is written after the settle, which is when the response is remembered.
    await eventually(() => expect(stack.records.length).toBe(recordsBefore + 1));
    const tokens = await followUpPromptTokens(id);
    expect(tokens).toBeGreaterThanOrEqual(carried);
    expect(tokens).toBeLessThan(carried + 100);
  });
});
