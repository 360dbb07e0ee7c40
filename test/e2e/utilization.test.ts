/**
 * Issue #17, "Done when": budgets used to their last per cent, never a nano-USD past them, on
 * three gateway processes sharing Redis and two sharing one SQLite file. Each test prints its
 * figures (the closing note quotes them).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { RedisStore } from '../../src/store/redis/budget.js';
import { SqliteStore } from '../../src/store/sqlite/budget.js';
import type { BudgetStore } from '../../src/store/types.js';
import { type GatewayProcess, spawnGateway } from '../helpers/processes.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';
import { ANTHROPIC_UPSTREAM_KEY, OPENAI_UPSTREAM_KEY } from './fixtures.js';
import {
  type Answer,
  clientsFor,
  expectNothingOther,
  lineOf,
  planMixed,
  providerCost,
  send,
  servedBy,
  spentAfter,
  USERS,
  userKey,
  utilizationConfig,
  watchSpent,
} from './utilization.js';

const PER_USER_USD = 0.004;
const BURST_USD = 0.01;
const AGENT_USD = 0.1;

interface Cluster {
  urls: string[];
  store: BudgetStore;
  stop(): Promise<void>;
}

type Backend = 'redis' | 'sqlite';

describe.each<Backend>(['redis', 'sqlite'])('budgets used to the last per cent (%s)', (backend) => {
  let redis: StartedRedis | undefined;
  let mock: MockProvider;
  let dir: string;
  beforeAll(async () => {
    mock = await startMockProvider({
      openaiApiKey: OPENAI_UPSTREAM_KEY,
      anthropicApiKey: ANTHROPIC_UPSTREAM_KEY,
    });
    if (backend === 'redis') redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'gw-util-'));
  });
  afterAll(async () => {
    await Promise.all([redis?.close(), mock?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** 3 processes on Redis, 2 on one SQLite file. */
  async function cluster(config: (store: string) => string): Promise<Cluster> {
    let gateways: GatewayProcess[];
    let store: BudgetStore;
    if (backend === 'redis') {
      const prefix = `util-${randomUUID()}`;
      const text = config(`type: redis, url: "${redis!.url}", prefix: "${prefix}", timeout_ms: 5000`);
      gateways = await Promise.all([0, 1, 2].map(() => spawnGateway(text)));
      store = new RedisStore({ url: redis!.url, prefix, timeoutMs: 5000 });
    } else {
      const path = join(dir, `${randomUUID()}.db`);
      const text = config(`type: sqlite, path: "${path}", timeout_ms: 5000`);
      // One first, so the two do not race to create the schema.
      gateways = [await spawnGateway(text)];
      gateways.push(await spawnGateway(text));
      store = new SqliteStore({ path, timeoutMs: 5000 });
    }
    return {
      urls: gateways.map((g) => g.url),
      store,
      async stop() {
        await Promise.all(gateways.map((g) => g.stop()));
        await store.close();
      },
    };
  }

  it('5 users x 80 mixed requests at $0.004 each: 0 over, >= 95% used, few answers cut short', async () => {
    mock.reset();
    const budget = `- { id: per-user, scope: { user: "*" }, limit_usd: ${PER_USER_USD}, period: none }`;
    const c = await cluster((store) => utilizationConfig({ mockUrl: mock.url, store, budgets: [budget] }));
    const lines = USERS.map((u) => lineOf(`per-user|user=${u}`, 'per-user', PER_USER_USD));
    const timeline = watchSpent(c.store, lines);
    try {
      const clients = clientsFor(c.urls);
      const plans = planMixed(USERS, 80, 17);
      const answers = await Promise.all(
        plans.map((plan, i) => send(clients.get(plan.user)![i % c.urls.length]!, plan)),
      );
      await timeline.stop();
      expectNothingOther(answers);
      const balances = await c.store.balances(lines);
      const limit = PER_USER_USD * 1e9;
      const figures = USERS.map((user, i) => {
        const mine = answers.filter((a) => a.user === user);
        const servedNano = servedBy(mock, `${user}-`).reduce((sum, r) => sum + providerCost(r), 0);
        const books = balances[i]!;
        const cuts = mine.filter((a) => a.kind === 'cut');
        // A cut is "at the budget's end" when the budget was in its last 5% right after it.
        const needless = cuts.filter((a) => spentAfter(timeline, i, a.endedAt) < limit * 0.95);
        for (const a of needless) {
          const after = [60, 1000, 3000].map(
            (ms) => `${((100 * spentAfter(timeline, i, a.endedAt, ms)) / limit).toFixed(1)}% at +${ms} ms`,
          );
          console.log(
            `[utilization ${backend}] cut before the last 5%: ${user} ${a.tag}, ${a.detail}; spent ${after.join(', ')}`,
          );
        }
        return {
          user,
          served: mine.filter((a) => a.kind === 'served').length + cuts.length,
          cut: cuts.length,
          needlessCuts: needless.length,
          exceeded: mine.filter((a) => a.kind === 'exceeded').length,
          busy: mine.filter((a) => a.kind === 'busy').length,
          providerUsd: servedNano / 1e9,
          booksUsd: books.spentNano / 1e9,
          usedRatio: books.spentNano / limit,
          reservedNano: books.reservedNano,
          servedNano,
          booksNano: books.spentNano,
        };
      });
      for (const f of figures) console.log(`[utilization ${backend}] per-user`, JSON.stringify(f));
      for (const f of figures) {
        expect(f.servedNano, `${f.user}: provider-served cost within the limit`).toBeLessThanOrEqual(limit);
        expect(f.booksNano, `${f.user}: books within the limit`).toBeLessThanOrEqual(limit);
        expect(f.booksNano, `${f.user}: books hold at least what the provider served`).toBeGreaterThanOrEqual(
          f.servedNano,
        );
        expect(f.usedRatio, `${f.user}: used`).toBeGreaterThanOrEqual(0.95);
        expect(f.reservedNano, `${f.user}: nothing left reserved`).toBe(0);
      }
      const served = figures.reduce((s, f) => s + f.served, 0);
      const needless = figures.reduce((s, f) => s + f.needlessCuts, 0);
      console.log(
        `[utilization ${backend}] cut short before the budget's last 5% was spent: ${needless} of ${served}`,
      );
      // Issue #17 asks for <= 5%. A first slice lowered to what was free while others held the rest
      // ended at that lowered cap (2-8 of 60-76 per run, up to 12.7%, in fresh-clone CIs), until a
      // metered request that may wait was lowered only with money nobody else holds. Answers with
      // no cap or n: 4 were then still cut at their lag margin while an extension was in flight
      // (0-4 of 47-78, once 6.3%): the margin counted a first read one token a byte, and waiting
      // asked the rest of the whole cap to fit. Since the margin is sized in tokens and the lead
      // grows with slow extensions (src/routes/proxy/meter.ts): 0-1 of 55-86 per run over 8 runs
      // per store (6 alone, 2 beside a CPU hog), 2 cuts in 16 runs. What is left: an answer whose
      // next slice was busy at 74% spent while others' slices held the rest (logged above).
      expect(needless / served, 'answers cut short outside a budget last 5%').toBeLessThanOrEqual(0.05);
    } finally {
      await c.stop();
    }
  }, 180_000);

  it('300 concurrent mixed requests at a $0.01 global budget: >= 95% used, 0 over', async () => {
    mock.reset();
    const budget = `- { id: shared, scope: global, limit_usd: ${BURST_USD}, period: none }`;
    const c = await cluster((store) => utilizationConfig({ mockUrl: mock.url, store, budgets: [budget] }));
    try {
      const clients = clientsFor(c.urls);
      // A quarter without max_tokens, streams and not (planMixed draws caps from none/100/400/2000).
      const plans = planMixed(USERS, 60, 29, 'burst');
      const answers: Answer[] = await Promise.all(
        plans.map((plan, i) => send(clients.get(plan.user)![i % c.urls.length]!, plan)),
      );
      expectNothingOther(answers);
      const [books] = await c.store.balances([lineOf('shared', 'shared', BURST_USD)]);
      const servedNano = servedBy(mock, '').reduce((sum, r) => sum + providerCost(r), 0);
      const limit = BURST_USD * 1e9;
      const figures = {
        served: answers.filter((a) => a.kind === 'served' || a.kind === 'cut').length,
        cut: answers.filter((a) => a.kind === 'cut').length,
        exceeded: answers.filter((a) => a.kind === 'exceeded').length,
        busy: answers.filter((a) => a.kind === 'busy').length,
        providerUsd: servedNano / 1e9,
        booksUsd: books!.spentNano / 1e9,
        usedRatio: books!.spentNano / limit,
      };
      console.log(`[utilization ${backend}] burst`, JSON.stringify(figures));
      const kindOf = new Map(answers.map((a) => [a.tag, a.kind]));
      const strays = servedBy(mock, '').filter(
        (r) => !['served', 'cut'].includes(kindOf.get(r.headers['x-mock-tag']!) ?? ''),
      );
      expect(
        strays.map((r) => `${r.headers['x-mock-tag']} ${kindOf.get(r.headers['x-mock-tag']!)}`),
        'served by the provider but refused to the client',
      ).toEqual([]);
      expect(servedNano).toBeLessThanOrEqual(limit);
      expect(books!.spentNano).toBeLessThanOrEqual(limit);
      expect(books!.spentNano).toBeGreaterThanOrEqual(servedNano);
      expect(figures.usedRatio).toBeGreaterThanOrEqual(0.95);
      expect(books!.reservedNano).toBe(0);
    } finally {
      await c.stop();
    }
  }, 180_000);

  it('agent traffic: 80 streamed calls with max_tokens 64000, 8 in parallel, at $0.10: >= 95% used, 0 over', async () => {
    mock.reset();
    const budget = `- { id: agent, scope: { user: "*" }, limit_usd: ${AGENT_USD}, period: none }`;
    const c = await cluster((store) =>
      utilizationConfig({ mockUrl: mock.url, store, budgets: [budget] }).replace(
        'models:',
        `  anthropic: { kind: anthropic, base_url: "${mock.url}", api_key: "${ANTHROPIC_UPSTREAM_KEY}" }
models:
  claude-sonnet-4-5: { provider: anthropic, input: 3.00, output: 15.00, cache_read: 0.30, cache_write: 3.75, max_output_tokens: 64000 }`,
      ),
    );
    try {
      const clients = c.urls.map(
        (url) => new Anthropic({ apiKey: userKey('u1'), baseURL: url, maxRetries: 0, timeout: 60_000 }),
      );
      const outcomes: string[] = [];
      let next = 0;
      const worker = async (w: number) => {
        for (;;) {
          const i = next++;
          if (i >= 80) return;
          const tokens = 150 + ((i * 37) % 300);
          try {
            const message = await clients[(w + i) % clients.length]!.messages.stream(
              {
                model: 'claude-sonnet-4-5',
                max_tokens: 64000,
                messages: [{ role: 'user', content: `agent step ${i}: read the file and edit it` }],
              },
              {
                headers: {
                  'x-mock-tag': `u1-agent-${i}`,
                  'x-mock-output-tokens': String(tokens),
                  'x-mock-chunks': String(tokens),
                  'x-mock-chunk-delay-ms': '1',
                  'x-mock-latency-ms': '150',
                },
              },
            ).finalMessage();
            outcomes.push(message.stop_reason === 'max_tokens' ? 'cut' : 'served');
          } catch (error) {
            const e = error as { status?: number; error?: { error?: { type?: string } } };
            outcomes.push(e.status === 429 ? (e.error?.error?.type ?? '429') : `other: ${String(error)}`);
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
      expect(outcomes.filter((o) => o.startsWith('other'))).toEqual([]);
      const [books] = await c.store.balances([lineOf('agent|user=u1', 'agent', AGENT_USD)]);
      const servedNano = servedBy(mock, 'u1-agent-').reduce((sum, r) => sum + providerCost(r), 0);
      const limit = AGENT_USD * 1e9;
      const figures = {
        served: outcomes.filter((o) => o === 'served' || o === 'cut').length,
        cut: outcomes.filter((o) => o === 'cut').length,
        refused: outcomes.filter((o) => o !== 'served' && o !== 'cut').length,
        providerUsd: servedNano / 1e9,
        booksUsd: books!.spentNano / 1e9,
        usedRatio: books!.spentNano / limit,
      };
      console.log(`[utilization ${backend}] agent`, JSON.stringify(figures));
      expect(servedNano).toBeLessThanOrEqual(limit);
      expect(books!.spentNano).toBeLessThanOrEqual(limit);
      expect(books!.spentNano).toBeGreaterThanOrEqual(servedNano);
      expect(figures.usedRatio).toBeGreaterThanOrEqual(0.95);
      expect(books!.reservedNano).toBe(0);
    } finally {
      await c.stop();
    }
  }, 180_000);
});
