/**
 * `npm run demo`: the gateway end to end with no real provider. Starts the mock provider and a
 * gateway on config/demo.yaml, then tells a short story with the official OpenAI SDK: what a call
 * costs, a team budget past 80% downgrading gpt-4o to gpt-4o-mini, a tiny per-user budget first
 * fitting max_tokens and then refusing with 429, and /v1/budget at the end.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { startGateway } from '../src/gateway.js';
import { startMockProvider } from '../src/mock/server.js';

const WEB_KEY = 'sk-gw-demo-web';
const INTERN_KEY = 'sk-gw-demo-intern';

/** config/demo.yaml from the source tree (tsx) or the build output (dist/scripts). */
function findDemoConfig(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'config', 'demo.yaml');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('config/demo.yaml not found');
}

const say = (text = '') => console.log(text);
const usd = (value: string | null | undefined) => (value ? `$${value}` : '-');
const pad = (text: string, width: number) => text.padEnd(width);

async function main(): Promise<void> {
  const started = Date.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'llmgw-demo-'));
  const mock = await startMockProvider({
    openaiApiKey: 'mock-openai-key',
    anthropicApiKey: 'mock-anthropic-key',
  });
  const configPath = findDemoConfig();
  const gateway = await startGateway({
    configPath,
    env: {
      ...process.env,
      MOCK_URL: mock.url,
      DEMO_STORE_PATH: join(dataDir, 'demo.db'),
      LOG_LEVEL: 'silent',
    },
    port: 0,
  });
  try {
    say('llm-budget-gateway demo');
    say(`  mock provider  ${mock.url}  (plays OpenAI and Anthropic; no real keys, no real money)`);
    say(`  gateway        ${gateway.url}  (config/demo.yaml)`);
    say();

    // Apps keep their SDK; only the base URL and the key change.
    const web = new OpenAI({ apiKey: WEB_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    const intern = new OpenAI({ apiKey: INTERN_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });

    say('1. The web app calls gpt-4o through the gateway with its virtual key');
    const first = await web.chat.completions
      .create({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'Say hello.' }] })
      .withResponse();
    say(`   answer        "${first.data.choices[0]?.message.content}"`);
    say(
      `   usage         ${first.data.usage?.prompt_tokens} prompt + ${first.data.usage?.completion_tokens} completion tokens`,
    );
    say(`   cost          ${usd(first.response.headers.get('x-gateway-cost-usd'))}  (x-gateway-cost-usd)`);
    say(
      `   budget        ${first.response.headers.get('x-gateway-budget-id')}: ${usd(first.response.headers.get('x-gateway-budget-remaining-usd'))} left`,
    );
    say(`   the provider saw the key "${mock.served.at(-1)?.headers.authorization}", never the app's`);
    say();

    say('2. Streaming: chunks pass straight through; the cost is settled when the stream ends');
    const streamed = await web.chat.completions
      .create({
        model: 'gpt-4o',
        max_tokens: 100,
        stream: true,
        messages: [{ role: 'user', content: 'Stream a greeting.' }],
      })
      .withResponse();
    let text = '';
    let chunks = 0;
    for await (const chunk of streamed.data) {
      text += chunk.choices[0]?.delta.content ?? '';
      chunks++;
    }
    say(`   ${chunks} chunks  "${text}"`);
    say(
      `   estimate      ${usd(streamed.response.headers.get('x-gateway-estimated-cost-usd'))}  (x-gateway-estimated-cost-usd: the worst case reserved up front)`,
    );
    say();

    say('3. The web team keeps calling gpt-4o; web-monthly ($0.50) downgrades it past 80%');
    say(`   ${pad('call', 6)}${pad('asked', 9)}${pad('served', 14)}${pad('cost', 14)}web-monthly left`);
    for (let call = 1; call <= 6; call++) {
      const { response } = await web.chat.completions
        .create(
          {
            model: 'gpt-4o',
            max_tokens: 12_000,
            messages: [{ role: 'user', content: 'Write a very long report.' }],
          },
          // The mock writes 10,000 tokens: $0.10 of gpt-4o output.
          { headers: { 'x-mock-output-tokens': '10000' } },
        )
        .withResponse();
      const served = response.headers.get('x-gateway-model') ?? '?';
      const from = response.headers.get('x-gateway-downgraded-from');
      say(
        `   ${pad(String(call), 6)}${pad('gpt-4o', 9)}${pad(served, 14)}${pad(usd(response.headers.get('x-gateway-cost-usd')), 14)}${usd(response.headers.get('x-gateway-budget-remaining-usd'))}${from ? `   (x-gateway-downgraded-from: ${from})` : ''}`,
      );
    }
    say();

    say('4. An intern (user "intern") has per-user-daily: $0.002 a day');
    for (let call = 1; call <= 4; call++) {
      try {
        const { response } = await intern.chat.completions
          .create(
            {
              model: 'gpt-4o-mini',
              max_tokens: 1500,
              messages: [{ role: 'user', content: 'Summarise the handbook.' }],
            },
            { headers: { 'x-mock-output-tokens': '1200' } },
          )
          .withResponse();
        const clamped = response.headers.get('x-gateway-max-tokens-clamped');
        say(
          `   call ${call}: ${usd(response.headers.get('x-gateway-cost-usd'))}, ${usd(response.headers.get('x-gateway-budget-remaining-usd'))} left${clamped ? `  (max_tokens lowered to ${clamped} to fit: x-gateway-max-tokens-clamped)` : ''}`,
        );
      } catch (error) {
        if (!(error instanceof OpenAI.APIError)) throw error;
        say(`   call ${call}: ${error.status} ${error.code}`);
        say(`           "${(error.error as { message?: string } | undefined)?.message}"`);
        say(
          `           retry-after: ${error.headers?.get('retry-after')} s, x-should-retry: ${error.headers?.get('x-should-retry')}`,
        );
        break;
      }
    }
    say();

    say('5. GET /v1/budget: each key sees its own budgets');
    for (const [who, key] of [
      ['web-app', WEB_KEY],
      ['intern-laptop', INTERN_KEY],
    ] as const) {
      const response = await fetch(`${gateway.url}/v1/budget`, {
        headers: { authorization: `Bearer ${key}` },
      });
      const body = (await response.json()) as {
        budgets: Array<{
          id: string;
          limit_usd: number;
          spent_usd: number;
          remaining_usd: number;
          resets_at: string | null;
        }>;
      };
      say(`   ${who}`);
      for (const b of body.budgets) {
        say(
          `     ${pad(b.id, 16)} spent $${b.spent_usd.toFixed(6)} of $${b.limit_usd.toFixed(b.limit_usd < 0.01 ? 3 : 2)}  ($${b.remaining_usd.toFixed(6)} left, resets ${b.resets_at ?? 'never'})`,
        );
      }
    }
    say();
    say(
      `Done in ${((Date.now() - started) / 1000).toFixed(1)} s. The provider was called ${mock.served.length} times: the refused call never reached it.`,
    );
  } finally {
    await gateway.close();
    await mock.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
