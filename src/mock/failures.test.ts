import http from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { startMockProvider, useMockProvider } from '../../test/helpers/mock.js';

const mock = useMockProvider({ openaiApiKey: 'sk-mock', anthropicApiKey: 'sk-ant-mock' });
const openai = (apiKey = 'sk-mock') =>
  new OpenAI({ apiKey, baseURL: `${mock.current.url}/v1`, maxRetries: 0 });
const anthropic = (apiKey = 'sk-ant-mock') =>
  new Anthropic({ apiKey, baseURL: mock.current.url, maxRetries: 0 });
beforeEach(() => mock.current.reset());

const chat = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'hi' }] };
const msg = {
  model: 'claude-haiku-4-5',
  max_tokens: 100,
  messages: [{ role: 'user' as const, content: 'hi' }],
};
const fail = (mode: string) => ({ headers: { 'x-mock-fail': mode } });

async function until(check: () => boolean, timeoutMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function post(path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${mock.current.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-mock', ...headers },
    body,
  });
}

describe('injected status errors', () => {
  it('surfaces OpenAI 429 as RateLimitError with the real body and retry-after', async () => {
    const err = await openai()
      .chat.completions.create(chat, fail('status:429'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limit_exceeded');
    expect(e.headers?.get('retry-after')).toBe('1');
    expect(mock.current.served[0]).toMatchObject({ status: 429, usage: null, completed: true });
  });

  it('surfaces OpenAI 500 as InternalServerError of type server_error', async () => {
    const err = await openai()
      .responses.create({ model: 'gpt-4o', input: 'hi' }, fail('status:500'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.APIError>).type).toBe('server_error');
  });

  it.each([
    [429, 'rate_limit_error'],
    [500, 'api_error'],
    [529, 'overloaded_error'],
  ])('surfaces Anthropic %i as APIError with error.type %s', async (status, type) => {
    const err = await anthropic()
      .messages.create(msg, fail(`status:${status}`))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    const e = err as InstanceType<typeof Anthropic.APIError>;
    expect(e.status).toBe(status);
    expect(e.error).toMatchObject({ type: 'error', error: { type } });
  });

  it('rejects a malformed x-mock header instead of ignoring it', async () => {
    const res = await post('/v1/chat/completions', JSON.stringify(chat), { 'x-mock-fail': 'explode' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /unknown mode 'explode'/,
    );
  });
});

describe('broken and garbage streams', () => {
  it('breaks an OpenAI stream after N chunks: the SDK raises, no usage is recorded', async () => {
    const stream = await openai().chat.completions.create(
      { ...chat, stream: true, stream_options: { include_usage: true } },
      fail('broken-stream:3'),
    );
    const seen: string[] = [];
    const err = await (async () => {
      for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(seen.length).toBeLessThanOrEqual(4);
    const [served] = mock.current.served;
    expect(served).toMatchObject({
      usage: null,
      outputTokensSent: 3,
      completed: false,
      clientClosedAt: null,
    });
  });

  it('breaks an Anthropic stream: finalMessage() rejects', async () => {
    const stream = anthropic().messages.stream(msg, fail('broken-stream:2'));
    await expect(stream.finalMessage()).rejects.toThrow();
    expect(mock.current.served[0]).toMatchObject({ usage: null, outputTokensSent: 2, completed: false });
  });

  it('sends garbage SSE after two chunks: the SDK fails to parse it', async () => {
    const stream = await openai().chat.completions.create({ ...chat, stream: true }, fail('garbage-sse'));
    const err = await (async () => {
      for await (const _ of stream) {
        /* drain */
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(mock.current.served[0]).toMatchObject({ usage: null, outputTokensSent: 2, completed: true });
  });

  it('sends garbage on the Responses stream too', async () => {
    const res = await post('/v1/responses', JSON.stringify({ model: 'gpt-4o', input: 'x', stream: true }), {
      'x-mock-fail': 'garbage-sse',
    });
    const text = await res.text();
    expect(text).toContain('response.output_text.delta');
    expect(text).toContain('data: this is not json');
    expect(text).not.toContain('response.completed');
  });
});

describe('client going away', () => {
  it('records clientClosedAt within a second of an AbortController abort mid-stream', async () => {
    const controller = new AbortController();
    const stream = await openai().chat.completions.create(
      { ...chat, stream: true },
      { headers: { 'x-mock-chunk-delay-ms': '50' }, signal: controller.signal },
    );
    let chunks = 0;
    await (async () => {
      for await (const _ of stream) {
        if (++chunks === 3) {
          controller.abort();
          break;
        }
      }
    })().catch(() => undefined);
    const abortedAt = Date.now();
    await until(() => mock.current.served[0]?.clientClosedAt != null);
    const served = mock.current.served[0]!;
    expect(served.clientClosedAt! - abortedAt).toBeLessThan(1000);
    expect(served.completed).toBe(false);
    expect(served.outputTokensSent).toBeGreaterThanOrEqual(2);
    expect(served.outputTokensSent).toBeLessThan(20);
  });

  it('hangs until the client gives up, then records the close', async () => {
    const started = Date.now();
    const err = await fetch(`${mock.current.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-mock', 'x-mock-fail': 'hang' },
      body: JSON.stringify(chat),
      signal: AbortSignal.timeout(200),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    await until(() => mock.current.served[0]?.clientClosedAt != null);
    expect(mock.current.served[0]).toMatchObject({ status: 0, completed: false });
  });

  it('waits before the first byte with slow-first-byte and x-mock-latency-ms', async () => {
    const t0 = Date.now();
    await openai().chat.completions.create(chat, fail('slow-first-byte:150'));
    const t1 = Date.now();
    await openai().chat.completions.create(chat, { headers: { 'x-mock-latency-ms': '100' } });
    const t2 = Date.now();
    await openai().chat.completions.create(chat);
    const t3 = Date.now();
    expect(t1 - t0).toBeGreaterThanOrEqual(145);
    expect(t2 - t1).toBeGreaterThanOrEqual(95);
    expect(t3 - t2).toBeLessThan(95);
  });

  it('spaces chunks by x-mock-chunk-delay-ms', async () => {
    const t0 = Date.now();
    const stream = await openai().chat.completions.create(
      { ...chat, stream: true },
      { headers: { 'x-mock-chunk-delay-ms': '30', 'x-mock-chunks': '5' } },
    );
    const arrivals: number[] = [];
    for await (const c of stream) if (c.choices[0]?.delta.content) arrivals.push(Date.now());
    expect(arrivals).toHaveLength(5);
    expect(arrivals.at(-1)! - t0).toBeGreaterThanOrEqual(4 * 30 - 5);
  });

  it('respects backpressure: a paused reader holds the stream back', async () => {
    const total = 100_000;
    const url = new URL(mock.current.url);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: '/v1/chat/completions',
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: 'Bearer sk-mock',
            'x-mock-output-tokens': String(total),
          },
        },
        resolve,
      );
      req.on('error', reject);
      req.end(JSON.stringify({ ...chat, stream: true }));
    });
    res.pause();
    await new Promise((r) => setTimeout(r, 300));
    const served = mock.current.served[0]!;
    expect(served.outputTokensSent).toBeLessThan(total);
    expect(served.completed).toBe(false);
    let bytes = 0;
    res.on('data', (b: Buffer) => {
      bytes += b.length;
    });
    res.resume();
    await new Promise((r) => res.on('end', r));
    expect(bytes).toBeGreaterThan(total * 100);
    await until(() => served.completed);
    expect(served.outputTokensSent).toBe(total);
  });
});

describe('auth, routes and bodies', () => {
  it('rejects a wrong OpenAI key with 401 invalid_api_key', async () => {
    const err = await openai('sk-wrong')
      .chat.completions.create(chat)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('invalid_api_key');
  });

  it('rejects a missing OpenAI key with 401', async () => {
    const res = await fetch(`${mock.current.url}/v1/models`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
  });

  it('rejects a wrong Anthropic key with 401 authentication_error', async () => {
    const err = await anthropic('sk-ant-wrong')
      .messages.create(msg)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: 'error',
      error: { type: 'authentication_error' },
    });
  });

  it('accepts the Anthropic key as x-api-key too, and not the OpenAI key', async () => {
    const ok = await post('/v1/messages', JSON.stringify(msg), {
      authorization: '',
      'x-api-key': 'sk-ant-mock',
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('request-id')).toBe(ok.headers.get('x-request-id'));
    const wrong = await post('/v1/messages', JSON.stringify(msg), {
      authorization: '',
      'x-api-key': 'sk-mock',
    });
    expect(wrong.status).toBe(401);
  });

  it('answers unknown routes with 404 in the caller’s format', async () => {
    const o = await post('/v1/nope', '{}');
    expect(o.status).toBe(404);
    expect(await o.json()).toMatchObject({ error: { code: 'unknown_url', type: 'invalid_request_error' } });
    const a = await post('/v1/nope', '{}', { 'anthropic-version': '2023-06-01' });
    expect(a.status).toBe(404);
    expect(await a.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it('answers malformed JSON with 400 in the route’s format', async () => {
    const o = await post('/v1/chat/completions', '{"model": ');
    expect(o.status).toBe(400);
    expect(await o.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const a = await post('/v1/messages', 'nope', { 'x-api-key': 'sk-ant-mock' });
    expect(a.status).toBe(400);
    expect(await a.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(mock.current.served.map((s) => s.status)).toEqual([400, 400]);
  });

  it('sets x-request-id and keeps connections alive', async () => {
    const res = await post('/v1/chat/completions', JSON.stringify(chat));
    await res.json();
    expect(res.headers.get('x-request-id')).toBe(mock.current.served[0]?.requestId);
    expect(res.headers.get('connection')).toBe('keep-alive');
  });
});

describe('options', () => {
  it('keeps no records with record:false and uses outputTokens / chunkCount defaults', async () => {
    const quiet = await startMockProvider({ record: false, outputTokens: 6, chunkCount: 2 });
    try {
      const client = new OpenAI({ apiKey: 'x', baseURL: `${quiet.url}/v1`, maxRetries: 0 });
      const stream = await client.chat.completions.create({
        ...chat,
        stream: true,
        stream_options: { include_usage: true },
      });
      const contents: string[] = [];
      let completionTokens = 0;
      for await (const c of stream) {
        if (c.choices[0]?.delta.content) contents.push(c.choices[0].delta.content);
        if (c.usage) completionTokens = c.usage.completion_tokens;
      }
      expect(contents).toHaveLength(2);
      expect(completionTokens).toBe(6);
      expect(quiet.served).toHaveLength(0);
    } finally {
      await quiet.close();
    }
  });

  it('closes hanging connections on close()', async () => {
    const m = await startMockProvider();
    const pending = fetch(`${m.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'x-mock-fail': 'hang' },
      body: JSON.stringify(chat),
    }).catch((e: unknown) => e);
    await until(() => m.served.length === 1);
    const t0 = Date.now();
    await m.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });
});
