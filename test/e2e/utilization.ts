/**
 * Issue #17's scenarios, shared by the Redis and SQLite runs (utilization.test.ts): budgets used to
 * their last per cent without a nano-USD past them, with metered answers, waiting and fairness.
 *
 * What is checked comes from three independent sources: the mock's own records (what the provider
 * generated and billed), the store read on its own connection (the books), and what the official
 * clients saw (served, refused, cut at the budget). Budgets are prepaid (`period: none`) so a run
 * that crosses midnight (test:calendar) keeps one line.
 */
import OpenAI, { APIError } from 'openai';
import { expect } from 'vitest';
import { anthropicPromptTokens, chatPromptTokens } from '../../src/mock/prompt.js';
import type { MockProvider, ServedRecord } from '../../src/mock/server.js';
import type { Nano } from '../../src/money.js';
import { pricePerMillionToPico } from '../../src/money.js';
import type { BudgetStore, LineSpec } from '../../src/store/types.js';
import { costOfUsage, type ModelPrice } from '../../src/usage.js';
import { OPENAI_UPSTREAM_KEY, priceOf } from './fixtures.js';
import { seededRandom } from './traffic.js';

export const USERS = ['u1', 'u2', 'u3', 'u4', 'u5'];
export const userKey = (user: string) => `sk-gw-util-${user}-000000000000`;

export function utilizationConfig(options: { mockUrl: string; store: string; budgets: string[] }): string {
  return `
server: { host: 127.0.0.1, port: 0, log_level: warn, request_timeout_ms: 30000 }
store: { ${options.store} }
providers:
  openai: { kind: openai, base_url: "${options.mockUrl}/v1", api_key: "${OPENAI_UPSTREAM_KEY}" }
models:
  gpt-4o-mini: { provider: openai, input: 0.15, output: 0.60, cached_input: 0.075, max_output_tokens: 16384 }
keys:
${USERS.map((u) => `  - { id: key-${u}, key: "${userKey(u)}", user: ${u} }`).join('\n')}
budgets:
${options.budgets.map((b) => `  ${b}`).join('\n')}
# Longer than the default 5 s: test files run side by side on two cores, and a queue that a loaded
# machine drains slowly must still reach the budget's end rather than time out (budget_busy).
budgeting: { max_wait_ms: 30000 }
`;
}

export function lineOf(instance: string, budgetId: string, limitUsd: number): LineSpec {
  return {
    instance,
    budgetId,
    period: 'all',
    previousPeriod: null,
    limitNano: Math.round(limitUsd * 1e9),
    rolloverMaxNano: 0,
    downgradeAtNano: -1,
    ttlSeconds: 0,
  };
}

/** Written out again here so a pricing bug in the gateway cannot hide. */
function priceFor(model: string): ModelPrice {
  if (model !== 'claude-sonnet-4-5') return priceOf(model);
  return {
    input: pricePerMillionToPico(3),
    output: pricePerMillionToPico(15),
    cachedInput: pricePerMillionToPico(0.3),
    cacheWrite: pricePerMillionToPico(3.75),
  };
}

/** What the provider billed for one request: its usage, or for an aborted stream what it generated. */
export function providerCost(record: ServedRecord): Nano {
  const price = priceFor(record.model);
  if (record.usage) {
    const u = record.usage;
    return costOfUsage(
      {
        inputTokens: u.input_tokens,
        cachedInputTokens: u.cached_tokens,
        cacheWriteTokens: u.cache_write_tokens,
        outputTokens: u.output_tokens,
        reasoningTokens: u.reasoning_tokens,
      },
      price,
    );
  }
  const generated = Math.max(
    record.outputTokensSent,
    (record as { outputTokensGenerated?: number }).outputTokensGenerated ?? 0,
  );
  return costOfUsage(
    {
      inputTokens:
        record.path === '/v1/messages'
          ? anthropicPromptTokens(record.body as Record<string, unknown>)
          : chatPromptTokens(record.body as Record<string, unknown>),
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: generated,
      reasoningTokens: 0,
    },
    price,
  );
}

export interface Answer {
  user: string;
  kind: 'served' | 'cut' | 'exceeded' | 'busy' | 'other';
  detail?: string;
  endedAt: number;
  /** The mock header that tags the request, to find it in mock.served. */
  tag: string;
}

interface Planned {
  user: string;
  tag: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
  cap: number | undefined;
  stream: boolean;
}

/** 80 mixed requests per user: streams and not, no cap / 100 / 400 / 2000, n up to 4. */
export function planMixed(users: readonly string[], perUser: number, seed: number, label = ''): Planned[] {
  const random = seededRandom(seed);
  const plans: Planned[] = [];
  for (const user of users) {
    for (let i = 0; i < perUser; i++) {
      const caps = [undefined, 100, 400, 2000] as const;
      const cap = caps[Math.floor(random() * caps.length)];
      const n = [1, 1, 2, 4][Math.floor(random() * 4)]!;
      const stream = random() < 0.5;
      const tokens = 50 + Math.floor(random() * 550);
      const tag = `${user}-${label}${i}`;
      plans.push({
        user,
        tag,
        cap,
        stream,
        body: {
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: `request ${tag}: tell me about budgets and rivers` }],
          ...(cap === undefined ? {} : { max_tokens: cap }),
          ...(n > 1 ? { n } : {}),
          ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
        },
        headers: {
          'x-mock-tag': tag,
          'x-mock-latency-ms': '150',
          'x-mock-output-tokens': String(tokens),
          // Ten tokens a chunk, 25 ms apart: 400 tokens/s, faster than providers stream, at a CPU
          // cost two cores carry with five gateway processes and 400 clients on them.
          'x-mock-chunks': String(Math.ceil(tokens / 10)),
          'x-mock-chunk-delay-ms': '25',
        },
      });
    }
  }
  return plans;
}

/** Sends one planned request through the official client; classifies what the client saw. */
export async function send(client: OpenAI, plan: Planned): Promise<Answer> {
  const done = (kind: Answer['kind'], detail?: string): Answer => ({
    user: plan.user,
    kind,
    tag: plan.tag,
    endedAt: Date.now(),
    ...(detail ? { detail } : {}),
  });
  try {
    let finishReasons: (string | null)[] = [];
    let tokens = 0;
    if (plan.stream) {
      const stream = await client.chat.completions.create(
        plan.body as unknown as OpenAI.Chat.ChatCompletionCreateParamsStreaming,
        { headers: plan.headers },
      );
      const byChoice = new Map<number, string | null>();
      for await (const chunk of stream) {
        for (const choice of chunk.choices) {
          if (choice.finish_reason) byChoice.set(choice.index, choice.finish_reason);
        }
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
      }
      finishReasons = [...byChoice.values()];
    } else {
      const completion = await client.chat.completions.create(
        plan.body as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming,
        { headers: plan.headers },
      );
      finishReasons = completion.choices.map((c) => c.finish_reason);
      tokens = completion.usage?.completion_tokens ?? 0;
    }
    if (finishReasons.length === 0) return done('other', 'no finish_reason');
    // Cut short: ended at the length limit although the client's cap was not what ended it.
    const cutByGateway = finishReasons.includes('length') && (plan.cap === undefined || tokens < plan.cap);
    return cutByGateway
      ? done('cut', `${tokens} of ${plan.headers['x-mock-output-tokens']} tokens, cap ${plan.cap ?? 'none'}`)
      : done('served');
  } catch (error) {
    if (error instanceof APIError && error.status === 429) {
      if (error.code === 'budget_exceeded') return done('exceeded');
      if (error.code === 'budget_busy') return done('busy');
    }
    return done(
      'other',
      error instanceof APIError ? `${error.status} ${error.code}: ${error.message}` : String(error),
    );
  }
}

export interface Timeline {
  samples: Array<{ at: number; spent: number[] }>;
  stop(): Promise<void>;
}

/** Polls the lines' spent from the store (its own connection) every few ms while traffic runs. */
export function watchSpent(store: BudgetStore, lines: LineSpec[]): Timeline {
  const samples: Timeline['samples'] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const balances = await store.balances(lines).catch(() => undefined);
      if (balances) samples.push({ at: Date.now(), spent: balances.map((b) => b.spentNano) });
      await new Promise((r) => setTimeout(r, 15));
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Spent on line i shortly after `at` (the first sample at least `afterMs` later). */
export function spentAfter(timeline: Timeline, i: number, at: number, afterMs = 60): number {
  const sample = timeline.samples.find((s) => s.at >= at + afterMs) ?? timeline.samples.at(-1);
  return sample?.spent[i] ?? 0;
}

export function clientsFor(urls: readonly string[]): Map<string, OpenAI[]> {
  const clients = new Map<string, OpenAI[]>();
  for (const user of USERS) {
    clients.set(
      user,
      urls.map(
        (url) => new OpenAI({ apiKey: userKey(user), baseURL: `${url}/v1`, maxRetries: 0, timeout: 60_000 }),
      ),
    );
  }
  return clients;
}

export function servedBy(mock: MockProvider, tagPrefix: string): ServedRecord[] {
  return mock.served.filter(
    (r) =>
      r.status === 200 &&
      typeof r.headers['x-mock-tag'] === 'string' &&
      r.headers['x-mock-tag'].startsWith(tagPrefix),
  );
}

export function expectNothingOther(answers: readonly Answer[]): void {
  const other = answers.filter((a) => a.kind === 'other');
  expect(
    other.map((a) => `${a.tag}: ${a.detail}`),
    'unexpected outcomes',
  ).toEqual([]);
}
