/**
 * API-made budgets and keys reach every instance: two gateways share one store (a SQLite file, or
 * one Redis); what the admin API writes on A applies to requests on B within a second (SQLite:
 * B polls the version row every 250 ms; Redis: pub/sub, with a version poll as the safety net).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { adminCall } from '../helpers/admin.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';
import {
  ANTHROPIC_UPSTREAM_KEY,
  eventually,
  OPENAI_UPSTREAM_KEY,
  type Stack,
  type StackOptions,
  startStack,
  TEST_KEY,
} from '../helpers/stack.js';

/** How long an instance may take to see another's write (the "within a second"). */
const PROPAGATION_MS = 1000;

async function chatStatus(stack: Stack, key: string): Promise<number> {
  try {
    await stack.openai(key, { defaultHeaders: { 'x-mock-output-tokens': '3' } }).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 20,
    });
    return 200;
  } catch (error) {
    if (error instanceof APIError && error.status !== undefined) return error.status;
    throw error;
  }
}

/** Polls `check` until it passes; fails when it still does not after PROPAGATION_MS. */
function withinASecond(check: () => Promise<void>): Promise<void> {
  return eventually(check, PROPAGATION_MS);
}

function propagationSuite(name: string, storeFor: () => StackOptions['store']) {
  describe(name, () => {
    let mock: MockProvider;
    let a: Stack;
    let b: Stack;
    beforeAll(async () => {
      mock = await startMockProvider({
        openaiApiKey: OPENAI_UPSTREAM_KEY,
        anthropicApiKey: ANTHROPIC_UPSTREAM_KEY,
      });
      const store = storeFor();
      a = await startStack({ mockProvider: mock, store });
      b = await startStack({ mockProvider: mock, store });
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await mock?.close();
    });

    it('a budget created on A rejects on B, and is gone from B once deleted on A', async () => {
      expect(await chatStatus(b, TEST_KEY)).toBe(200);
      const created = await adminCall(a.gateway, 'POST', '/admin/budgets', {
        id: 'alpha-frozen',
        scope: { key: 'alpha' },
        limit_usd: 0.000001,
        period: 'daily',
      });
      expect(created.status).toBe(201);
      await withinASecond(async () => expect(await chatStatus(b, TEST_KEY)).toBe(429));
      // B's admin API answers from the store too, not only from its cache.
      expect((await adminCall(b.gateway, 'GET', '/admin/budgets/alpha-frozen')).status).toBe(200);

      expect((await adminCall(a.gateway, 'DELETE', '/admin/budgets/alpha-frozen')).status).toBe(200);
      await withinASecond(async () => expect(await chatStatus(b, TEST_KEY)).toBe(200));
    });

    it('a key created on A works on B; revoked on A, B answers it 401', async () => {
      const created = await adminCall(a.gateway, 'POST', '/admin/keys', { id: 'roaming', team: 'web' });
      expect(created.status).toBe(201);
      const secret: string = created.body.key;
      await withinASecond(async () => expect(await chatStatus(b, secret)).toBe(200));

      expect((await adminCall(a.gateway, 'DELETE', '/admin/keys/roaming')).status).toBe(200);
      await withinASecond(async () => expect(await chatStatus(b, secret)).toBe(401));
      expect(await chatStatus(a, secret)).toBe(401);
    });

    it('B can change and delete what A made', async () => {
      await adminCall(a.gateway, 'POST', '/admin/budgets', { id: 'shared', scope: 'global', limit_usd: 1 });
      const put = await adminCall(b.gateway, 'PUT', '/admin/budgets/shared', {
        scope: 'global',
        limit_usd: 2,
      });
      expect(put.status).toBe(200);
      expect((await adminCall(a.gateway, 'GET', '/admin/budgets/shared')).body.limit_usd).toBe(2);
      expect((await adminCall(b.gateway, 'DELETE', '/admin/budgets/shared')).status).toBe(200);
      expect((await adminCall(a.gateway, 'GET', '/admin/budgets/shared')).status).toBe(404);
    });
  });
}

let sqliteDir: string | undefined;
propagationSuite('two gateways on one SQLite file', () => {
  sqliteDir = mkdtempSync(join(tmpdir(), 'llmgw-sync-'));
  return { type: 'sqlite', path: join(sqliteDir, 'shared.db') };
});
afterAll(() => {
  if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
});

let redis: StartedRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.close();
});
propagationSuite('two gateways on one Redis', () => ({
  type: 'redis',
  url: redis.url,
  prefix: `sync-${randomUUID()}`,
}));

describe('Redis without pub/sub', () => {
  let mock: MockProvider;
  let stack: Stack;
  const prefix = `poll-${randomUUID()}`;
  beforeAll(async () => {
    mock = await startMockProvider({
      openaiApiKey: OPENAI_UPSTREAM_KEY,
      anthropicApiKey: ANTHROPIC_UPSTREAM_KEY,
    });
    stack = await startStack({ mockProvider: mock, store: { type: 'redis', url: redis.url, prefix } });
  });
  afterAll(async () => {
    await stack?.close();
    await mock?.close();
  });

  it('a write whose announcement was lost still arrives by the version poll', async () => {
    // A writer that bumps the version but never publishes (as if the message were lost).
    const raw = new Redis(redis.url);
    try {
      const secret = 'sk-gw-written-without-publish-0001';
      const record = {
        id: 'silent',
        key_sha256: createHash('sha256').update(secret).digest('hex'),
        tags: [],
        created_at: new Date().toISOString(),
      };
      await raw.hset(`{${prefix}}:meta:keys`, 'silent', JSON.stringify(record));
      await raw.incr(`{${prefix}}:meta:version`);
      // The poll runs every second: allow two intervals.
      await eventually(
        async () => expect(await chatStatus(stack, secret)).toBe(200),
        2 * PROPAGATION_MS + 500,
      );
    } finally {
      raw.disconnect();
    }
  });
});
