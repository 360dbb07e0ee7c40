/**
 * How the mock streams tokens and what it generates after a client aborts: the figures the
 * metered-stream slice is sized from. A fetch client reads a chat stream, aborts after K content
 * tokens, and the mock's ServedRecord tells how many tokens it produced (what a provider bills).
 */
import { describe, expect, it } from 'vitest';
import { useMockProvider } from '../../test/helpers/mock.js';
import type { ServedRecord } from './types.js';

const mock = useMockProvider();

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Streams a chat answer of `tokens` tokens and aborts after reading `abortAfter` content chunks. */
async function abortedStream(tokens: number, delayMs: number, abortAfter: number) {
  const controller = new AbortController();
  const before = mock.current.served.length;
  const res = await fetch(`${mock.current.url}/v1/chat/completions`, {
    method: 'POST',
    signal: controller.signal,
    headers: {
      'content-type': 'application/json',
      'x-mock-output-tokens': String(tokens),
      'x-mock-chunk-delay-ms': String(delayMs),
    },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'go' }], stream: true }),
  });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let received = 0;
  try {
    while (received < abortAfter) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let end = buffered.indexOf('\n\n');
      while (end >= 0) {
        if (
          buffered.slice(0, end).includes('"content":"') &&
          !buffered.slice(0, end).includes('"content":""')
        )
          received++;
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\n\n');
      }
    }
  } finally {
    controller.abort();
  }
  const record = mock.current.served[before] as ServedRecord;
  await until(() => record.clientClosedAt !== null);
  // Give the mock's loop the moment it needs to see the close and stop (no more tokens after).
  const settled = record.outputTokensSent;
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(record.outputTokensSent).toBe(settled);
  return { received, record };
}

describe('mock streaming granularity and abort lag', () => {
  it('N output tokens and no x-mock-chunks: N content chunks of one token each, spaced by the delay', async () => {
    const res = await fetch(`${mock.current.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-mock-output-tokens': '40',
        'x-mock-chunk-delay-ms': '2',
      },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'go' }],
        stream: true,
      }),
    });
    const events = (await res.text())
      .split('\n\n')
      .filter((e) => e.includes('"content":"') && !e.includes('"content":""'));
    expect(events).toHaveLength(40);
  });

  it('reports the tokens generated after the client aborted (lag) at chunk delays 0, 1 and 5 ms', async () => {
    const rows: string[] = [];
    for (const delayMs of [0, 1, 5]) {
      const lags: number[] = [];
      for (let run = 0; run < 5; run++) {
        const { received, record } = await abortedStream(delayMs === 0 ? 20_000 : 2000, delayMs, 50);
        expect(record.completed).toBe(false);
        expect(record.usage).toBeNull();
        expect(record.outputTokensSent).toBeGreaterThanOrEqual(received);
        lags.push(record.outputTokensSent - received);
      }
      lags.sort((a, b) => a - b);
      rows.push(
        `delay ${delayMs} ms: lag median ${lags[2]} max ${lags[4]} tokens (runs: ${lags.join(', ')})`,
      );
    }
    console.log(
      `[lag] tokens the mock generated after the client aborted at 50 tokens:\n  ${rows.join('\n  ')}`,
    );
  });
});
