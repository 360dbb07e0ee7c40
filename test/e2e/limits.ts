/**
 * Issue 13's proof, shared by the Redis and the SQLite runs: two gateway processes on one store,
 * three keys each under one limit (30 requests/minute, 3 concurrent, 6,000 tokens/minute). The
 * provider's view (the counting proxy, the mock's reported usage) is what is checked. Everything
 * runs within one minute of real time, so each sliding window holds all of it.
 */
import { expect } from 'vitest';
import type { MockProvider } from '../../src/mock/server.js';
import type { CountingProxy } from '../helpers/counting-proxy.js';
import { KEYS } from './fixtures.js';

export const LIMITS_YAML = `
limits:
  - { id: thirty-rpm, scope: { key: key-1 }, requests_per_minute: 30 }
  - { id: three-at-once, scope: { key: key-2 }, concurrent_requests: 3 }
  - { id: six-k-tpm, scope: { key: key-3 }, tokens_per_minute: 6000 }
`;

interface Answer {
  status: number;
  headers: Headers;
  body: { error?: { code?: string; message?: string } };
}

async function chat(
  url: string,
  key: string,
  headers: Record<string, string>,
  maxTokens = 50,
): Promise<Answer> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      max_tokens: maxTokens,
      messages: [{ role: 'user', content: 'Hi' }],
    }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] };
}

function count(answers: Answer[], status: number): number {
  return answers.filter((a) => a.status === status).length;
}

export async function limitsAcrossInstances(options: {
  label: string;
  gatewayUrls: string[];
  mock: MockProvider;
  proxy: CountingProxy;
}): Promise<void> {
  const { gatewayUrls: urls, mock, proxy } = options;
  const at = (i: number) => urls[i % urls.length]!;

  // 1. 50 concurrent requests under 30 requests/minute: exactly 30 through, across both instances.
  const rpm = await Promise.all(Array.from({ length: 50 }, (_, i) => chat(at(i), KEYS[0]!, {})));
  expect([count(rpm, 200), count(rpm, 429)]).toEqual([30, 20]);
  const refused = rpm.find((a) => a.status === 429)!;
  expect(refused.body.error?.code).toBe('rate_limit_exceeded');
  expect(refused.headers.get('x-should-retry')).toBe('true');
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(55);
  expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
  const served = rpm.find((a) => a.status === 200)!;
  expect(served.headers.get('x-ratelimit-limit-requests')).toBe('30');
  expect(Number(served.headers.get('x-ratelimit-remaining-requests'))).toBeLessThan(30);
  console.log(`[${options.label}] 30 rpm: ${count(rpm, 200)} of 50 through`);

  // 2. 20 concurrent slow requests under 3 concurrent: never more than 3 at the provider.
  proxy.resetMax();
  const conc = await Promise.all(
    Array.from({ length: 20 }, (_, i) => chat(at(i), KEYS[1]!, { 'x-mock-latency-ms': '400' })),
  );
  expect(proxy.maxInFlight).toBeLessThanOrEqual(3);
  expect(count(conc, 200)).toBeGreaterThanOrEqual(3);
  expect(count(conc, 200) + count(conc, 429)).toBe(20);
  expect(conc.find((a) => a.status === 429)?.body.error?.message).toContain('three-at-once');
  console.log(
    `[${options.label}] 3 concurrent: at most ${proxy.maxInFlight} at the provider, ${count(conc, 200)} of 20 served`,
  );

  // 3. 6,000 tokens/minute, by what the provider counts: each request reserves its prompt + 300
  // output tokens and the mock writes 100, so settling to actual lets more through than 6000/300.
  mock.reset();
  const tpm: Answer[] = [];
  for (let round = 0; round < 20; round++) {
    tpm.push(
      ...(await Promise.all(
        Array.from({ length: 4 }, (_, i) => chat(at(i), KEYS[2]!, { 'x-mock-output-tokens': '100' }, 300)),
      )),
    );
  }
  const counted = mock.served
    .filter((r) => r.usage)
    .reduce((sum, r) => sum + r.usage!.input_tokens + r.usage!.cached_tokens + r.usage!.output_tokens, 0);
  expect(counted).toBeLessThanOrEqual(6000);
  expect(count(tpm, 200)).toBeGreaterThan(6000 / 300);
  expect(tpm.find((a) => a.status === 429)?.body.error?.code).toBe('rate_limit_exceeded');
  const last = tpm.filter((a) => a.status === 200).at(-1)!;
  expect(last.headers.get('x-ratelimit-limit-tokens')).toBe('6000');
  console.log(
    `[${options.label}] 6000 tpm: the provider counted ${counted} tokens over ${count(tpm, 200)} served requests (of 80)`,
  );
}
