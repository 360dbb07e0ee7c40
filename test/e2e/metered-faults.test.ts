/**
 * Metered answers under faults (issue #17): an instance SIGKILLed between two extensions leaves
 * nothing reserved once its lease ran out (each extension renews the lease, so the lease counts
 * from the last one); a Redis outage during an extension does what store.on_unavailable says.
 */
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { RedisStore } from '../../src/store/redis/budget.js';
import { spawnGateway } from '../helpers/processes.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';
import { eventually, startStack, TEST_KEY } from '../helpers/stack.js';
import { OPENAI_UPSTREAM_KEY } from './fixtures.js';
import { lineOf, userKey, utilizationConfig } from './utilization.js';

/** USD: room for the whole answer, so only the kill ends it. */
const providerLimit = 0.01;

describe('metered answers under faults', () => {
  let redis: StartedRedis;
  let mock: MockProvider;
  beforeAll(async () => {
    [redis, mock] = await Promise.all([
      startRedis(),
      startMockProvider({ openaiApiKey: OPENAI_UPSTREAM_KEY }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([redis?.close(), mock?.close()]);
  });

  it('SIGKILL between two extensions: nothing stays reserved once the lease ran out', async () => {
    mock.reset();
    const prefix = `kill-${randomUUID()}`;
    const config = utilizationConfig({
      mockUrl: mock.url,
      store: `type: redis, url: "${redis.url}", prefix: "${prefix}", timeout_ms: 2000`,
      budgets: [`- { id: shared, scope: global, limit_usd: ${providerLimit}, period: none }`],
    })
      .replace('request_timeout_ms: 30000', 'request_timeout_ms: 4000')
      .replace(
        'budgeting: { max_wait_ms: 30000 }',
        'budgeting: { stream_slice_tokens: 128, lease_margin_ms: 500, lease_ms: 4000, lease_renew_ms: 1000 }',
      );
    const gateway = await spawnGateway(config);
    const store = new RedisStore({ url: redis.url, prefix, timeoutMs: 2000 });
    const line = lineOf('shared', 'shared', providerLimit);
    try {
      const client = new OpenAI({ apiKey: userKey('u1'), baseURL: `${gateway.url}/v1`, maxRetries: 0 });
      const stream = await client.chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'long' }], stream: true },
        {
          // 500 tokens/s, a fast real provider's pace (not the mock's 1 ms, which on a loaded machine
          // outruns the gateway's reads): the cover left at the lag margin is then 64 ms or more of
          // generation, what the settle at the hold must cover when the gateway dies.
          headers: { 'x-mock-output-tokens': '3000', 'x-mock-chunks': '3000', 'x-mock-chunk-delay-ms': '2' },
        },
      );
      let chunks = 0;
      const reading = (async () => {
        try {
          for await (const _ of stream) chunks++;
        } catch {
          // the gateway died under it
        }
      })();
      // Past two slices: at least one extension happened, the next is due.
      await eventually(() => expect(chunks).toBeGreaterThan(300), 10_000);
      const [during] = await store.balances([line]);
      expect(during!.reservedNano).toBeGreaterThan(0);
      gateway.kill('SIGKILL');
      await gateway.exited;
      await reading;
      // The lease (4 s, renewed at the last extension or heartbeat before the kill) runs out; any
      // instance's reaper (here the test's own store) then settles the reservation at what it held.
      await eventually(async () => {
        await store.reapExpired(Date.now());
        const [after] = await store.balances([line]);
        expect(after!.reservedNano).toBe(0);
      }, 10_000);
      const [after] = await store.balances([line]);
      const generated = mock.served[0]!.outputTokensSent;
      // Settled at the hold: at least what the provider generated (gpt-4o-mini $0.60/M), within the limit.
      expect(after!.spentNano).toBeGreaterThanOrEqual(generated * 600);
      expect(after!.spentNano).toBeLessThanOrEqual(providerLimit * 1e9);
      console.log(
        `[metered SIGKILL] chunks relayed ${chunks}, tokens generated ${generated}, settled $${after!.spentNano / 1e9}`,
      );
    } finally {
      await store.close();
    }
  }, 60_000);

  it.each(['reject', 'allow'] as const)(
    'Redis down during an extension, on_unavailable %s',
    async (mode) => {
      mock.reset();
      const own = await startRedis();
      const s = await startStack({
        mockProvider: mock,
        store: { type: 'redis', url: own.url, prefix: `out-${randomUUID()}` },
        storeExtra: `, timeout_ms: 300, on_unavailable: ${mode}`,
        extraYaml: `
budgets:
  - { id: big, scope: global, limit_usd: 10, period: none }
budgeting: { stream_slice_tokens: 128 }
`,
      });
      try {
        const stream = await s.openai(TEST_KEY).chat.completions.create(
          { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'long' }], stream: true },
          {
            headers: {
              'x-mock-output-tokens': '2000',
              'x-mock-chunks': '2000',
              'x-mock-chunk-delay-ms': '1',
            },
          },
        );
        let chunks = 0;
        let finish: string | null = null;
        for await (const chunk of stream) {
          chunks++;
          if (chunks === 20) await own.stop();
          finish = chunk.choices[0]?.finish_reason ?? finish;
        }
        if (mode === 'reject') {
          // Fails closed: the answer ends at the cover the reservation still held.
          expect(finish).toBe('length');
          expect(chunks).toBeLessThan(400);
        } else {
          // Fails open: the rest of the answer is relayed unmetered.
          expect(finish).toBe('stop');
          expect(chunks).toBeGreaterThan(1900);
        }
      } finally {
        await s.close();
        await own.close();
      }
    },
    60_000,
  );
});
