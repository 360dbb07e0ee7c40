/**
 * A gateway on a real Redis Cluster (three masters, started locally), configured the way an operator
 * would: `store: { type: redis, cluster_nodes: [host:port, ...] }`. Concurrent budgeted requests past
 * a small budget: the provider never serves more than the limit and the books match it exactly.
 * Also the config's checks of cluster_nodes.
 */
import { randomUUID } from 'node:crypto';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { type StartedCluster, startRedisCluster } from '../helpers/redis.js';
import { eventually } from '../helpers/stack.js';
import {
  gatewayConfig,
  KEYS,
  lineOf,
  OPENAI_UPSTREAM_KEY,
  servedChats,
  totalServedCost,
} from './fixtures.js';

const LIMIT_USD = 0.01;

function problemsOf(store: string): string[] {
  try {
    parseConfig(gatewayConfig({ mockUrl: 'http://127.0.0.1:9', store, budgets: [] }), '(test)', {});
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('store.cluster_nodes in the config', () => {
  it('accepts host:port seeds, IPv6 in brackets', () => {
    expect(problemsOf('type: redis, cluster_nodes: ["10.0.0.1:7000", "redis-b:7001", "[::1]:7002"]')).toEqual(
      [],
    );
  });

  it('names each malformed node, a missing port, a port out of range, and an empty list', () => {
    expect(problemsOf('type: redis, cluster_nodes: ["10.0.0.1:7000", "redis-b", "[::1]"]')).toEqual([
      'store.cluster_nodes[1]: expected host:port',
      'store.cluster_nodes[2]: expected host:port',
    ]);
    expect(problemsOf('type: redis, cluster_nodes: ["x:99999", "y:0"]')).toEqual([
      'store.cluster_nodes[0]: expected host:port with a port 1-65535, got x:99999',
      'store.cluster_nodes[1]: expected host:port with a port 1-65535, got y:0',
    ]);
    expect(problemsOf('type: redis, cluster_nodes: []')).toEqual([
      'store.cluster_nodes: expected at least one host:port',
    ]);
  });

  it('refuses url and cluster_nodes together, and cluster_nodes without type redis', () => {
    expect(
      problemsOf('type: redis, url: "redis://127.0.0.1:7000", cluster_nodes: ["127.0.0.1:7000"]'),
    ).toEqual([
      'store.cluster_nodes: give either store.url (one Redis) or store.cluster_nodes (a Redis Cluster), not both',
    ]);
    expect(problemsOf('type: sqlite, cluster_nodes: ["127.0.0.1:7000"]')).toEqual([
      'store.cluster_nodes: only used when store.type is redis',
    ]);
  });
});

describe('a gateway on a 3-master Redis Cluster', () => {
  let cluster: StartedCluster;
  let mock: MockProvider;
  let gateway: Gateway;
  beforeAll(async () => {
    [cluster, mock] = await Promise.all([
      startRedisCluster(),
      startMockProvider({ openaiApiKey: OPENAI_UPSTREAM_KEY }),
    ]);
    const nodes = cluster.nodes.map((n) => `"${n.host}:${n.port}"`).join(', ');
    gateway = await startGateway({
      configText: gatewayConfig({
        mockUrl: mock.url,
        store: `type: redis, cluster_nodes: [${nodes}], prefix: "cl-${randomUUID()}", timeout_ms: 3000`,
        budgets: [`- { id: shared, scope: global, limit_usd: ${LIMIT_USD}, period: none }`],
      }).replace('log_level: warn', 'log_level: silent'),
      env: {},
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await mock?.close();
    await cluster?.stop();
  });

  it('serves budgeted requests: never past the limit, books equal to what the provider served', async () => {
    const client = new OpenAI({ apiKey: KEYS[1], baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    // 60 requests of up to ~$0.00036 each against $0.01: some must be refused.
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        client.chat.completions
          .create(
            {
              model: 'gpt-4o-mini',
              max_tokens: 600,
              messages: [{ role: 'user', content: `cluster request ${i}` }],
              ...(i % 2 === 0 ? { stream: true as const } : {}),
            },
            {
              headers: {
                'x-mock-output-tokens': '600',
                'x-mock-chunks': '10',
                'x-mock-latency-ms': String(i % 7),
              },
            },
          )
          .then(async (result) => {
            if (Symbol.asyncIterator in result) for await (const _ of result) void _;
            return 'served';
          })
          .catch((error: unknown) =>
            error instanceof APIError &&
            error.status === 429 &&
            (error.code === 'budget_exceeded' || error.code === 'budget_busy')
              ? 'refused'
              : String(error),
          ),
      ),
    );
    const served = outcomes.filter((o) => o === 'served').length;
    const refused = outcomes.filter((o) => o === 'refused').length;
    expect(served + refused).toBe(60);
    expect(served).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    expect(servedChats(mock.served)).toHaveLength(served);

    const servedNano = totalServedCost(mock.served);
    expect(servedNano).toBeLessThanOrEqual(LIMIT_USD * 1e9);
    await eventually(async () => {
      const [shared] = await gateway.store.balances([lineOf('shared', LIMIT_USD)]);
      expect(shared?.reservedNano).toBe(0);
      // A stream cut at the budget is billed its hold, never less than the provider served.
      expect(shared?.spentNano).toBeGreaterThanOrEqual(servedNano);
      expect(shared?.spentNano).toBeLessThanOrEqual(LIMIT_USD * 1e9);
    });
    console.log(
      `redis cluster: ${served} served, ${refused} refused, spent ${servedNano} of ${LIMIT_USD * 1e9} nano-USD`,
    );
  });
});
