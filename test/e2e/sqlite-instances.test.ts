/**
 * The embedded store shared by processes on one host: two gateway processes on one SQLite file race
 * for one $0.05 budget (see race.ts), and balances survive a SIGKILL and a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { SqliteStore } from '../../src/store/sqlite/budget.js';
import { spawnGateway } from '../helpers/processes.js';
import { gatewayConfig, KEYS, lineOf, OPENAI_UPSTREAM_KEY, totalServedCost } from './fixtures.js';
import { RACE_BUDGETS, RACE_MAX_OUTPUT_TOKENS, raceToTheLimit } from './race.js';

describe('gateway processes sharing one SQLite file', () => {
  let mock: MockProvider;
  let dir: string;
  beforeAll(async () => {
    mock = await startMockProvider({ openaiApiKey: OPENAI_UPSTREAM_KEY });
    dir = mkdtempSync(join(tmpdir(), 'gw-e2e-sqlite-'));
  });
  afterAll(async () => {
    await mock?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('two processes: 500 concurrent mixed requests never spend past $0.05, and the books match the provider', async () => {
    mock.reset();
    const path = join(dir, 'race.db');
    const config = gatewayConfig({
      mockUrl: mock.url,
      // Two processes take turns on the write lock; give a busy moment room before "unavailable".
      store: `type: sqlite, path: "${path}", timeout_ms: 5000`,
      budgets: RACE_BUDGETS,
      maxOutputTokens: RACE_MAX_OUTPUT_TOKENS,
    });
    // Start one first so the two do not race to create the schema.
    const first = await spawnGateway(config);
    const second = await spawnGateway(config);
    const store = new SqliteStore({ path, timeoutMs: 5000 });
    try {
      await raceToTheLimit({
        label: 'sqlite, 2 processes',
        gatewayUrls: [first.url, second.url],
        mock,
        store,
        seed: 7,
      });
    } finally {
      await store.close();
    }
    await Promise.all([first.stop(), second.stop()]);
  }, 150_000);

  it('balances survive SIGKILL and a restart on the same file', async () => {
    mock.reset();
    const path = join(dir, 'durable.db');
    const config = gatewayConfig({
      mockUrl: mock.url,
      store: `type: sqlite, path: "${path}"`,
      budgets: ['- { id: prepaid, scope: global, limit_usd: 10, period: none }'],
    });
    const spentOf = async (url: string): Promise<number> => {
      const response = await fetch(`${url}/v1/budget`, { headers: { authorization: `Bearer ${KEYS[0]}` } });
      expect(response.status).toBe(200);
      const body = (await response.json()) as {
        budgets: Array<{ id: string; spent_usd: number; reserved_usd: number }>;
      };
      const prepaid = body.budgets.find((b) => b.id === 'prepaid');
      expect(prepaid?.reserved_usd).toBe(0);
      return prepaid?.spent_usd ?? Number.NaN;
    };

    const before = await spawnGateway(config);
    const client = new OpenAI({ apiKey: KEYS[0], baseURL: `${before.url}/v1`, maxRetries: 0 });
    for (let i = 0; i < 12; i++) {
      await client.chat.completions.create({
        model: i % 3 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
        max_tokens: 100 + i * 10,
        messages: [{ role: 'user', content: `request ${i}: ${'words '.repeat(i * 20)}` }],
      });
    }
    const spentBefore = await spentOf(before.url);
    const servedNano = totalServedCost(mock.served);
    expect(spentBefore).toBe(servedNano / 1e9);
    // No graceful close: the WAL is not checkpointed, the connection not closed.
    before.kill('SIGKILL');
    expect(await before.exited).toBeNull();

    const after = await spawnGateway(config);
    expect(await spentOf(after.url)).toBe(spentBefore);
    const store = new SqliteStore({ path });
    try {
      const [balance] = await store.balances([lineOf('prepaid', 10)]);
      expect(balance).toEqual({ limitNano: 10e9, spentNano: servedNano, reservedNano: 0 });
    } finally {
      await store.close();
    }
    await after.stop();
  }, 120_000);
});
