/**
 * Slow readers cannot take more than their cap of upstream connections (issue 13): a key limited to
 * 2 streams in flight opens 8 streams that it never reads; the provider sees at most 2, the rest
 * are refused with 429 rate_limit_exceeded before anything goes upstream, and plain requests of
 * the same key still pass.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { type CountingProxy, startCountingProxy } from '../helpers/counting-proxy.js';
import {
  ANTHROPIC_UPSTREAM_KEY,
  OPENAI_UPSTREAM_KEY,
  type Stack,
  startStack,
  TEST_KEY,
} from '../helpers/stack.js';

let mock: MockProvider;
let proxy: CountingProxy;
let stack: Stack;
beforeAll(async () => {
  mock = await startMockProvider({
    openaiApiKey: OPENAI_UPSTREAM_KEY,
    anthropicApiKey: ANTHROPIC_UPSTREAM_KEY,
  });
  proxy = await startCountingProxy(mock.url);
  stack = await startStack({
    mockProvider: { ...mock, url: proxy.url },
    extraYaml: `
limits:
  - { id: streams-per-key, scope: { key: "*" }, concurrent_streams: 2 }
`,
  });
});
afterAll(async () => {
  await stack?.close();
  await proxy?.close();
  await mock?.close();
});

/** Opens a stream and never reads its body; resolves with the status once the headers arrive. */
function unreadStream(): Promise<{ status: number; close: () => void }> {
  const url = new URL(`${stack.gateway.url}/v1/chat/completions`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          authorization: `Bearer ${TEST_KEY}`,
          'content-type': 'application/json',
          'x-mock-output-tokens': '400',
          'x-mock-chunk-delay-ms': '50',
        },
      },
      (res) => {
        res.pause();
        resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
      },
    );
    req.once('error', reject);
    req.end(
      JSON.stringify({
        model: 'gpt-4o-mini',
        stream: true,
        max_tokens: 500,
        messages: [{ role: 'user', content: 'Hi' }],
      }),
    );
  });
}

describe('slow readers', () => {
  it('take at most their streams cap of upstream connections', async () => {
    const streams = await Promise.all(Array.from({ length: 8 }, () => unreadStream()));
    const statuses = streams.map((s) => s.status).sort();
    expect(statuses).toEqual([200, 200, 429, 429, 429, 429, 429, 429]);
    const upstreamStreams = proxy.maxInFlight;
    expect(upstreamStreams).toBeLessThanOrEqual(2);
    // Plain requests of the same key are not streams: they still pass.
    const plain = await stack.openai().chat.completions.create({
      model: 'gpt-4o-mini',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(plain.choices).toHaveLength(1);
    console.log(
      `[slow readers] 8 unread streams: ${statuses.filter((s) => s === 200).length} served, at most ${upstreamStreams} upstream streams at once`,
    );
    for (const s of streams) s.close();
  });
});
