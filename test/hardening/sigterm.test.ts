/**
 * SIGTERM under load, on a real child process: the gateway stops accepting, lets in-flight streams
 * finish, settles every one of them, and exits 0 — the budget holds exactly what the provider served.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { SqliteStore } from '../../src/store/sqlite/budget.js';
import { costOfUsage } from '../../src/usage.js';
import { spawnGateway } from '../helpers/processes.js';
import { ANTHROPIC_UPSTREAM_KEY, baseConfigYaml, OPENAI_UPSTREAM_KEY, TEST_KEY } from '../helpers/stack.js';

let mock: MockProvider;
let dir: string;

beforeAll(async () => {
  mock = await startMockProvider({
    openaiApiKey: OPENAI_UPSTREAM_KEY,
    anthropicApiKey: ANTHROPIC_UPSTREAM_KEY,
  });
  dir = mkdtempSync(join(tmpdir(), 'llmgw-sigterm-'));
});
afterAll(async () => {
  await mock?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SIGTERM under load', () => {
  it('drains in-flight streams, settles them all and exits 0', async () => {
    const configText = baseConfigYaml(
      mock.url,
      {
        serverYaml: ', shutdown_grace_ms: 20000',
        extraYaml: 'budgets:\n  - { id: everything, scope: global, limit_usd: 100, period: none }\n',
      },
      dir,
    );
    const gateway = await spawnGateway(configText);
    const client = new OpenAI({ apiKey: TEST_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });

    const streams = Array.from({ length: 8 }, async () => {
      const stream = await client.chat.completions.create(
        { model: 'gpt-4o-mini', stream: true, max_tokens: 30, messages: [{ role: 'user', content: 'go' }] },
        { headers: { 'x-mock-output-tokens': '30', 'x-mock-chunks': '15', 'x-mock-chunk-delay-ms': '60' } },
      );
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      return text;
    });
    await expect
      .poll(() => mock.served.filter((r) => r.outputTokensSent > 0).length, { timeout: 30_000 })
      .toBe(8);

    gateway.kill('SIGTERM');
    const texts = await Promise.all(streams);
    expect(await gateway.exited).toBe(0);

    // Every stream was served whole, and the budget holds exactly what the provider billed.
    expect(texts.every((t) => t.length > 0)).toBe(true);
    expect(mock.served.every((r) => r.completed)).toBe(true);
    const price = parseConfig(configText, 'test', {}).models.get('gpt-4o-mini')!.price;
    const servedCost = mock.served.reduce((sum, r) => {
      const u = r.usage!;
      return (
        sum +
        costOfUsage(
          {
            inputTokens: u.input_tokens,
            cachedInputTokens: u.cached_tokens,
            cacheWriteTokens: u.cache_write_tokens,
            outputTokens: u.output_tokens,
            reasoningTokens: u.reasoning_tokens,
          },
          price,
        )
      );
    }, 0);
    const store = new SqliteStore({ path: join(dir, 'gateway.db') });
    const [balance] = await store.balances([
      {
        instance: 'everything',
        budgetId: 'everything',
        period: 'all',
        previousPeriod: null,
        limitNano: 100e9,
        rolloverMaxNano: 0,
        downgradeAtNano: -1,
        ttlSeconds: 0,
      },
    ]);
    await store.close();
    expect(balance?.reservedNano).toBe(0);
    expect(balance?.spentNano).toBe(servedCost);
  }, 90_000);
});
