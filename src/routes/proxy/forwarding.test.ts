/**
 * Security of the forwarding path: the provider gets the provider's key from config and never the
 * virtual key; hop-by-hop, cookie and x-gateway-* headers stay behind; the client cannot choose the
 * upstream host; both key conventions work; /v1/models lists only what the key may use.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ANTHROPIC_UPSTREAM_KEY,
  OPENAI_UPSTREAM_KEY,
  type Stack,
  startStack,
  TEST_KEY,
  TEST_KEY_2,
} from '../../../test/helpers/stack.js';
import { onlyServed } from './stack.test-helpers.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.mock.reset();
});

const chatBody = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'hi' }],
  max_tokens: 5,
});
const messagesBody = JSON.stringify({
  model: 'claude-haiku-4-5',
  messages: [{ role: 'user', content: 'hi' }],
  max_tokens: 5,
});

/** A raw HTTP/1.1 request (fetch refuses to send hop-by-hop headers), body sent chunked. */
function rawPost(
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    // Two writes without a content-length: the body goes out with transfer-encoding: chunked.
    req.write(body.slice(0, 10));
    req.end(body.slice(10));
  });
}

describe('credentials upstream', () => {
  it('OpenAI: the provider gets the configured key, never the virtual key', async () => {
    await stack.openai().chat.completions.create(JSON.parse(chatBody));
    const served = onlyServed(stack);
    expect(served.status).toBe(200);
    expect(served.headers.authorization).toBe(`Bearer ${OPENAI_UPSTREAM_KEY}`);
    expect(served.headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(served.headers)).not.toContain(TEST_KEY);
  });

  it('Anthropic: the provider gets the configured key, never the virtual key', async () => {
    await stack.anthropic().messages.create(JSON.parse(messagesBody));
    const served = onlyServed(stack);
    expect(served.status).toBe(200);
    expect(served.headers['x-api-key']).toBe(ANTHROPIC_UPSTREAM_KEY);
    expect(served.headers.authorization).toBeUndefined();
    // The SDK's own API version passes through.
    expect(served.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(JSON.stringify(served.headers)).not.toContain(TEST_KEY);
  });

  it('Anthropic: a client without anthropic-version gets the default one upstream', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': TEST_KEY },
      body: messagesBody,
    });
    expect(response.status).toBe(200);
    expect(onlyServed(stack).headers['anthropic-version']).toBe('2023-06-01');
  });

  it('a client-chosen Authorization/x-api-key pair cannot leak through: both are replaced', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': TEST_KEY,
        authorization: `Bearer ${TEST_KEY}`,
        'anthropic-version': '2023-06-01',
      },
      body: messagesBody,
    });
    expect(response.status).toBe(200);
    const served = onlyServed(stack);
    expect(served.headers['x-api-key']).toBe(ANTHROPIC_UPSTREAM_KEY);
    expect(JSON.stringify(served.headers)).not.toContain(TEST_KEY);
  });
});

describe('header hygiene', () => {
  it('only allow-listed headers pass: hop-by-hop, cookie, x-gateway-*, org/project and client addresses stay behind', async () => {
    const mockHost = new URL(stack.mock.url).host;
    const response = await rawPost(
      `${stack.gateway.url}/v1/chat/completions`,
      {
        'content-type': 'application/json',
        authorization: `Bearer ${TEST_KEY}`,
        host: 'evil.example:9999',
        connection: 'keep-alive, x-private-hop',
        'keep-alive': 'timeout=5',
        'x-private-hop': 'hop-only',
        'proxy-authorization': 'Basic c2VjcmV0',
        te: 'trailers',
        trailer: 'x-checksum',
        cookie: 'session=abc',
        'x-gateway-user': 'bob',
        'x-gateway-debug': 'yes',
        'x-custom-pass': 'forwarded',
        'openai-organization': 'org-123',
        'openai-project': 'proj-123',
        'x-forwarded-for': '203.0.113.9',
        forwarded: 'for=203.0.113.9',
        'x-real-ip': '203.0.113.9',
        'x-stainless-lang': 'js',
      },
      chatBody,
    );
    expect(response.status).toBe(200);
    const h = onlyServed(stack).headers;
    for (const name of [
      'keep-alive',
      'x-private-hop',
      'proxy-authorization',
      'te',
      'trailer',
      'transfer-encoding',
      'cookie',
      'x-gateway-user',
      'x-gateway-debug',
      'x-custom-pass',
      'openai-organization',
      'openai-project',
      'x-forwarded-for',
      'forwarded',
      'x-real-ip',
    ]) {
      expect(h[name], name).toBeUndefined();
    }
    expect(h.connection ?? '').not.toContain('x-private-hop');
    // The upstream host is the configured one, whatever Host the client sent.
    expect(h.host).toBe(mockHost);
    expect(h['x-stainless-lang']).toBe('js');
    expect(h.authorization).toBe(`Bearer ${OPENAI_UPSTREAM_KEY}`);
    // The gateway's own headers come back; the provider's hop-by-hop ones do not.
    expect(response.headers['x-gateway-model']).toBe('gpt-4o-mini');
    expect(response.headers['x-request-id']).toBe(onlyServed(stack).requestId);
  });

  it('the body model is the only thing that selects the upstream: a path or URL in it goes nowhere else', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/chat/completions?target=http://evil.example`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
      body: chatBody,
    });
    expect(response.status).toBe(200);
    const served = onlyServed(stack);
    expect(served.path).toBe('/v1/chat/completions');
  });
});

describe('virtual key conventions', () => {
  it.each([
    ['Authorization: Bearer', { authorization: `Bearer ${TEST_KEY}` }],
    ['x-api-key', { 'x-api-key': TEST_KEY }],
  ])('%s works on the OpenAI and Anthropic endpoints', async (_name, auth) => {
    const chat = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: chatBody,
    });
    expect(chat.status).toBe(200);
    const messages = await fetch(`${stack.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...auth },
      body: messagesBody,
    });
    expect(messages.status).toBe(200);
    expect(stack.mock.served.map((s) => s.status)).toEqual([200, 200]);
  });

  it('the Anthropic SDK works with the key as apiKey (x-api-key) and as authToken (Bearer)', async () => {
    const viaApiKey = await stack.anthropic().messages.create(JSON.parse(messagesBody));
    const viaToken = await stack
      .anthropic(TEST_KEY, { apiKey: null, authToken: TEST_KEY })
      .messages.create(JSON.parse(messagesBody));
    expect(viaApiKey.type).toBe('message');
    expect(viaToken.type).toBe('message');
    expect(stack.mock.served).toHaveLength(2);
  });
});

describe('GET /v1/models', () => {
  it('OpenAI shape: every OpenAI-API model for an unrestricted key (no Claude models: chat completions refuses them), only the allowed ones for a restricted key', async () => {
    const all = await stack.openai().models.list();
    expect(all.data.map((m) => m.id).sort()).toEqual(
      ['gpt-4o', 'gpt-4o-mini', 'o3-mini', 'text-embedding-3-small'].sort(),
    );
    const restricted = await stack.openai(TEST_KEY_2).models.list();
    expect(restricted.data.map((m) => m.id).sort()).toEqual(['gpt-4o-mini', 'text-embedding-3-small']);
    expect(restricted.data[0]?.object).toBe('model');
    expect(stack.mock.served).toHaveLength(0);
  });

  it('Anthropic shape (anthropic-version): only Anthropic models the key may use', async () => {
    const page = await stack.anthropic().models.list();
    expect(page.data.map((m) => m.id).sort()).toEqual(['claude-haiku-4-5', 'claude-sonnet-4-5']);
    expect(page.data[0]?.type).toBe('model');
    const restricted = await stack.anthropic(TEST_KEY_2).models.list();
    expect(restricted.data).toEqual([]);
    expect(stack.mock.served).toHaveLength(0);
  });

  it('without a key: 401 in the asking SDK format', async () => {
    const openai = await fetch(`${stack.gateway.url}/v1/models`);
    expect(openai.status).toBe(401);
    expect(((await openai.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const anthropic = await fetch(`${stack.gateway.url}/v1/models`, {
      headers: { 'anthropic-version': '2023-06-01' },
    });
    expect(anthropic.status).toBe(401);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });
});
