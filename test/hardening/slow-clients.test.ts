/**
 * Slow clients cannot hold connections open: headers and whole requests have deadlines, and an
 * oversized header block is refused. Nothing is forwarded and no budget moves.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_KEY } from '../helpers/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ serverYaml: ', client_header_timeout_ms: 300, client_request_timeout_ms: 600' });
});
afterAll(async () => stack?.close());

/** Writes `parts` with pauses and returns what the server answered (or '' if it just closed). */
function rawExchange(parts: string[], pauseMs: number): Promise<{ answer: string; elapsedMs: number }> {
  const url = new URL(stack.gateway.url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let answer = '';
    let i = 0;
    const writeNext = () => {
      if (socket.destroyed || i >= parts.length) return;
      socket.write(parts[i++] as string);
      setTimeout(writeNext, pauseMs);
    };
    socket.on('connect', writeNext);
    socket.on('data', (d) => {
      answer += d.toString();
    });
    socket.on('close', () => resolve({ answer, elapsedMs: Date.now() - started }));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`server kept the slow connection open; got: ${answer.slice(0, 80)}`));
    }, 10_000).unref();
  });
}

describe('slow and oversized clients', () => {
  it('closes a connection whose headers trickle in (slow loris) with 408', async () => {
    const parts = [
      'POST /v1/chat/completions HTTP/1.1\r\n',
      'Host: x\r\n',
      ...Array(40).fill('X-Slow: 1\r\n'),
    ];
    const { answer } = await rawExchange(parts, 100);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(stack.mock.served).toHaveLength(0);
  });

  it('closes a connection whose body trickles in with 408', async () => {
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const chunks = [head, ...body.match(/.{1,4}/g)!];
    const { answer } = await rawExchange(chunks, 100);
    expect(answer).toMatch(/HTTP\/1\.1 408/);
    expect(stack.mock.served).toHaveLength(0);
  });

  it('refuses a header block over the limit with 431', async () => {
    const res = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TEST_KEY}`,
        'content-type': 'application/json',
        'x-big': 'a'.repeat(40_000),
      },
      body: '{}',
    });
    expect(res.status).toBe(431);
    expect(stack.mock.served).toHaveLength(0);
  });
});
