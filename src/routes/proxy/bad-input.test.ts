/**
 * Bad input never reaches the provider and never moves a budget: each case answers the status of
 * DESIGN §2 in the client's API format (OpenAI for /v1/chat/completions and the other OpenAI paths,
 * Anthropic for /v1/messages), checked on the raw body and through the official SDKs' error classes.
 * A wrong content type is a 400 like any other unusable body (both providers answer 400 there).
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_KEY, TEST_KEY_2 } from '../../../test/helpers/stack.js';
import { budgetTotals } from './stack.test-helpers.js';

const MAX_BODY = 2048;

let stack: Stack;
let before: { spent: number; reserved: number };

beforeAll(async () => {
  stack = await startStack({
    serverYaml: ', max_body_bytes: 2kb',
    extraYaml: `budgets:
  - { id: all-spend, scope: global, limit_usd: 1000, period: monthly }
  - { id: per-key, scope: { key: "*" }, limit_usd: 10, period: daily }
`,
  });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(async () => {
  stack.mock.reset();
  before = await budgetTotals(stack);
});
afterEach(async () => {
  // The provider was never called and no budget moved, whatever the case.
  expect(stack.mock.served).toHaveLength(0);
  expect(await budgetTotals(stack)).toEqual(before);
  expect(await budgetTotals(stack, TEST_KEY_2)).toEqual({ spent: 0, reserved: 0 });
});

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 };
const message = { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 };

interface Case {
  name: string;
  path: string;
  body: string;
  headers?: Record<string, string>;
  status: number;
  /** OpenAI error.code / Anthropic error.type */
  code: string;
  param?: string | null;
}

const json = (value: unknown) => JSON.stringify(value);
const auth = { authorization: `Bearer ${TEST_KEY}` };

/** A case on `path` (default /v1/chat/completions); a string body is sent as is, anything else as JSON. */
function bad(
  name: string,
  body: unknown,
  status: number,
  code: string,
  extra: { param?: string; path?: string; headers?: Record<string, string> } = {},
): Case {
  return {
    name,
    path: extra.path ?? '/v1/chat/completions',
    body: typeof body === 'string' ? body : json(body),
    headers: extra.headers,
    status,
    code,
    param: extra.param,
  };
}

const keyless = { headers: { authorization: '' } };
const openaiCases: Case[] = [
  bad('malformed JSON', '{"model": "gpt-4o-mini",', 400, 'invalid_json'),
  bad('empty body', '', 400, 'invalid_json'),
  bad('body is an array', [chat], 400, 'invalid_json'),
  bad('body is a string', '"hello"', 400, 'invalid_json'),
  bad('body is null', 'null', 400, 'invalid_json'),
  bad('missing model', { ...chat, model: undefined }, 400, 'invalid_request', { param: 'model' }),
  bad('model is a number', { ...chat, model: 4 }, 400, 'invalid_request', { param: 'model' }),
  bad('missing messages', { ...chat, messages: undefined }, 400, 'invalid_request', { param: 'messages' }),
  bad('messages is a string', { ...chat, messages: 'hi' }, 400, 'invalid_request', { param: 'messages' }),
  bad('message without role', { ...chat, messages: [{ content: 'hi' }] }, 400, 'invalid_request', {
    param: 'messages[0].role',
  }),
  bad('max_tokens negative', { ...chat, max_tokens: -5 }, 400, 'invalid_request', { param: 'max_tokens' }),
  bad('max_tokens not an integer', { ...chat, max_tokens: 2.5 }, 400, 'invalid_request', {
    param: 'max_tokens',
  }),
  bad('max_tokens a string', { ...chat, max_tokens: '100' }, 400, 'invalid_request', { param: 'max_tokens' }),
  bad('max_completion_tokens zero', { ...chat, max_completion_tokens: 0 }, 400, 'invalid_request', {
    param: 'max_completion_tokens',
  }),
  bad('stream not a boolean', { ...chat, stream: 'yes' }, 400, 'invalid_request', { param: 'stream' }),
  bad(
    'stream_options not an object',
    { ...chat, stream: true, stream_options: true },
    400,
    'invalid_request',
    {
      param: 'stream_options',
    },
  ),
  bad('unknown model', { ...chat, model: 'gpt-9-ultra' }, 404, 'model_not_found', { param: 'model' }),
  bad('model not allowed for the key', { ...chat, model: 'gpt-4o' }, 403, 'forbidden_model', {
    param: 'model',
    headers: { authorization: `Bearer ${TEST_KEY_2}` },
  }),
  bad(
    'Anthropic model on the OpenAI endpoint',
    { ...chat, model: 'claude-haiku-4-5' },
    400,
    'invalid_request',
    {
      param: 'model',
    },
  ),
  bad('missing key', chat, 401, 'unauthorized', keyless),
  bad('wrong key', chat, 401, 'unauthorized', { headers: { authorization: 'Bearer sk-gw-not-a-real-key' } }),
  bad('wrong x-api-key', chat, 401, 'unauthorized', {
    headers: { authorization: '', 'x-api-key': 'sk-gw-not-a-real-key' },
  }),
  bad(
    'body over max_body_bytes',
    { ...chat, messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY) }] },
    413,
    'payload_too_large',
  ),
  bad('text/plain content type', chat, 400, 'unsupported_media_type', {
    headers: { 'content-type': 'text/plain' },
  }),
  bad('form content type', 'model=gpt-4o-mini', 400, 'unsupported_media_type', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  }),
  bad('embeddings without input', { model: 'text-embedding-3-small' }, 400, 'invalid_request', {
    param: 'input',
    path: '/v1/embeddings',
  }),
  bad('completions with prompt a number', { model: 'gpt-4o-mini', prompt: 42 }, 400, 'invalid_request', {
    param: 'prompt',
    path: '/v1/completions',
  }),
  bad(
    'responses with max_output_tokens negative',
    { model: 'gpt-4o', input: 'hi', max_output_tokens: -1 },
    400,
    'invalid_request',
    {
      param: 'max_output_tokens',
      path: '/v1/responses',
    },
  ),
  bad('responses without input', { model: 'gpt-4o' }, 400, 'invalid_request', {
    param: 'input',
    path: '/v1/responses',
  }),
];

const onMessages = (extra: { headers?: Record<string, string> } = {}) => ({ path: '/v1/messages', ...extra });
const anthropicCases: Case[] = [
  bad('malformed JSON', '{"model": ', 400, 'invalid_request_error', onMessages()),
  bad('body is an array', [message], 400, 'invalid_request_error', onMessages()),
  bad('missing model', { ...message, model: undefined }, 400, 'invalid_request_error', onMessages()),
  bad(
    'messages an object',
    { ...message, messages: { role: 'user' } },
    400,
    'invalid_request_error',
    onMessages(),
  ),
  bad('max_tokens negative', { ...message, max_tokens: -1 }, 400, 'invalid_request_error', onMessages()),
  bad(
    'max_tokens not an integer',
    { ...message, max_tokens: 10.5 },
    400,
    'invalid_request_error',
    onMessages(),
  ),
  bad('stream not a boolean', { ...message, stream: 1 }, 400, 'invalid_request_error', onMessages()),
  bad('unknown model', { ...message, model: 'claude-9' }, 404, 'not_found_error', onMessages()),
  bad(
    'model not allowed for the key',
    message,
    403,
    'permission_error',
    onMessages({
      headers: { authorization: `Bearer ${TEST_KEY_2}` },
    }),
  ),
  bad(
    'OpenAI model on the Anthropic endpoint',
    { ...message, model: 'gpt-4o' },
    400,
    'invalid_request_error',
    onMessages(),
  ),
  bad('missing key', message, 401, 'authentication_error', onMessages(keyless)),
  bad(
    'wrong key',
    message,
    401,
    'authentication_error',
    onMessages({
      headers: { authorization: '', 'x-api-key': 'sk-gw-wrong-key-123' },
    }),
  ),
  bad(
    'body over max_body_bytes',
    { ...message, system: 'y'.repeat(MAX_BODY) },
    413,
    'request_too_large',
    onMessages(),
  ),
  bad(
    'text/plain content type',
    message,
    400,
    'invalid_request_error',
    onMessages({
      headers: { 'content-type': 'text/plain' },
    }),
  ),
];

async function send(c: Case): Promise<{ response: Response; body: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...auth, ...c.headers };
  if (c.path === '/v1/messages') headers['anthropic-version'] = '2023-06-01';
  for (const [name, value] of Object.entries(headers)) if (value === '') delete headers[name];
  const response = await fetch(`${stack.gateway.url}${c.path}`, { method: 'POST', headers, body: c.body });
  return { response, body: await response.json() };
}

describe('raw requests, OpenAI format', () => {
  it.each(openaiCases)('$name → $status $code', async (c) => {
    const { response, body } = await send(c);
    expect(response.status).toBe(c.status);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(response.headers.get('x-gateway-request-id')).toMatch(/^req_/);
    const error = (body as { error: Record<string, unknown> }).error;
    expect(Object.keys(body as object)).toEqual(['error']);
    expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(error.code).toBe(c.code);
    expect(typeof error.message).toBe('string');
    expect((error.message as string).length).toBeGreaterThan(10);
    if (c.param !== undefined) expect(error.param).toBe(c.param);
    // The message never echoes a key.
    expect(JSON.stringify(body)).not.toContain(TEST_KEY);
  });
});

describe('raw requests, Anthropic format', () => {
  it.each(anthropicCases)('$name → $status $code', async (c) => {
    const { response, body } = await send(c);
    expect(response.status).toBe(c.status);
    expect(body).toEqual({ type: 'error', error: { type: c.code, message: expect.any(String) } });
  });
});

describe('a body over the limit without a Content-Length (chunked)', () => {
  it('is answered 413 and the connection closed, not reset before the answer', async () => {
    const total = 32 * 1024 * 1024;
    let sent = 0;
    const piece = new Uint8Array(64 * 1024).fill(0x78);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0)
          controller.enqueue(new TextEncoder().encode('{"model":"gpt-4o","messages":[{"content":"'));
        if (sent >= total) {
          controller.close();
          return;
        }
        sent += piece.length;
        controller.enqueue(piece);
      },
    });
    const response = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(response.headers.get('connection')).toBe('close');
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });
});

describe('the official SDKs classify the errors', () => {
  it('openai: BadRequestError with the field, NotFoundError, PermissionDeniedError, AuthenticationError, 413', async () => {
    const client = stack.openai();
    const bad = await client.chat.completions
      .create({ ...chat, max_tokens: -1 } as never)
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bad).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      code: 'invalid_request',
      param: 'max_tokens',
    });

    const notFound = await client.chat.completions
      .create({ ...chat, model: 'nope' } as never)
      .catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
    expect(notFound).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });

    const forbidden = await stack
      .openai(TEST_KEY_2)
      .chat.completions.create({ ...chat, model: 'gpt-4o' } as never)
      .catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(forbidden).toMatchObject({ status: 403, type: 'permission_error', code: 'forbidden_model' });

    const denied = await stack
      .openai('sk-gw-unknown-key')
      .chat.completions.create(chat as never)
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(denied).toMatchObject({ status: 401, type: 'authentication_error', code: 'unauthorized' });

    const tooBig = await client.chat.completions
      .create({ ...chat, messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY) }] } as never)
      .catch((e: unknown) => e);
    expect(tooBig).toBeInstanceOf(OpenAI.APIError);
    expect(tooBig).toMatchObject({ status: 413, code: 'payload_too_large' });

    const wrongFamily = await client.chat.completions
      .create({ ...chat, model: 'claude-haiku-4-5' } as never)
      .catch((e: unknown) => e);
    expect(wrongFamily).toBeInstanceOf(OpenAI.BadRequestError);
    expect(wrongFamily).toMatchObject({ status: 400, param: 'model' });

    const badStream = await client.chat.completions
      .create({ ...chat, stream: 'yes' } as never)
      .catch((e: unknown) => e);
    expect(badStream).toBeInstanceOf(OpenAI.BadRequestError);
    expect(badStream).toMatchObject({ param: 'stream' });
  });

  it('anthropic: BadRequestError, NotFoundError, PermissionDeniedError, AuthenticationError, 413', async () => {
    const client = stack.anthropic();
    const bad = await client.messages
      .create({ ...message, max_tokens: 1.5 } as never)
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect(bad).toMatchObject({ status: 400, type: 'invalid_request_error' });
    expect((bad as Error).message).toContain('max_tokens');

    const notFound = await client.messages
      .create({ ...message, model: 'claude-0' } as never)
      .catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(Anthropic.NotFoundError);
    expect(notFound).toMatchObject({ status: 404, type: 'not_found_error' });

    const forbidden = await stack
      .anthropic(TEST_KEY_2)
      .messages.create(message as never)
      .catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(forbidden).toMatchObject({ status: 403, type: 'permission_error' });

    const denied = await stack
      .anthropic('sk-gw-unknown-key')
      .messages.create(message as never)
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(denied).toMatchObject({ status: 401, type: 'authentication_error' });

    const tooBig = await client.messages
      .create({ ...message, system: 'y'.repeat(MAX_BODY) } as never)
      .catch((e: unknown) => e);
    expect(tooBig).toBeInstanceOf(Anthropic.APIError);
    expect(tooBig).toMatchObject({ status: 413, type: 'request_too_large' });

    const wrongFamily = await client.messages
      .create({ ...message, model: 'gpt-4o' } as never)
      .catch((e: unknown) => e);
    expect(wrongFamily).toBeInstanceOf(Anthropic.BadRequestError);
  });
});
