/**
 * Limits across instances (issue 13's "Done when"): two gateway processes on one Redis, and two on
 * one SQLite file, each against the same limits (see limits.ts for what is checked).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { type CountingProxy, startCountingProxy } from '../helpers/counting-proxy.js';
import { spawnGateway } from '../helpers/processes.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';
import { gatewayConfig, OPENAI_UPSTREAM_KEY } from './fixtures.js';
import { LIMITS_YAML, limitsAcrossInstances } from './limits.js';

describe('limits held across gateway processes', () => {
  let redis: StartedRedis;
  let mock: MockProvider;
  let proxy: CountingProxy;
  let dir: string;
  beforeAll(async () => {
    [redis, mock] = await Promise.all([
      startRedis(),
      startMockProvider({ openaiApiKey: OPENAI_UPSTREAM_KEY }),
    ]);
    proxy = await startCountingProxy(mock.url);
    dir = mkdtempSync(join(tmpdir(), 'gw-e2e-limits-'));
  });
  afterAll(async () => {
    await Promise.all([redis?.close(), mock?.close(), proxy?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const config = (store: string) => gatewayConfig({ mockUrl: proxy.url, store, budgets: [] }) + LIMITS_YAML;

  it('two processes on one Redis', async () => {
    const cfg = config(`type: redis, url: "${redis.url}", prefix: "e2e-${randomUUID()}", timeout_ms: 5000`);
    const gateways = await Promise.all([0, 1].map(() => spawnGateway(cfg)));
    try {
      await limitsAcrossInstances({
        label: 'redis, 2 processes',
        gatewayUrls: gateways.map((g) => g.url),
        mock,
        proxy,
      });
    } finally {
      await Promise.all(gateways.map((g) => g.stop()));
    }
  }, 120_000);

  it('two processes on one SQLite file', async () => {
    const cfg = config(`type: sqlite, path: "${join(dir, 'limits.db')}", timeout_ms: 5000`);
    // One first, so the two do not race to create the schema.
    const first = await spawnGateway(cfg);
    const second = await spawnGateway(cfg);
    try {
      await limitsAcrossInstances({
        label: 'sqlite, 2 processes',
        gatewayUrls: [first.url, second.url],
        mock,
        proxy,
      });
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  }, 120_000);
});
