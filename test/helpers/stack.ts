/**
 * An in-process stack for integration tests: the mock provider and a gateway pointed at it,
 * with a SQLite file in a fresh temp dir (or a Redis URL), on free ports. close() tears all down.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { type MockProvider, type MockProviderOptions, startMockProvider } from '../../src/mock/server.js';
import type { RequestRecord } from '../../src/record.js';

export const OPENAI_UPSTREAM_KEY = 'sk-upstream-openai-secret-0001';
export const ANTHROPIC_UPSTREAM_KEY = 'sk-ant-upstream-secret-0002';
export const TEST_KEY = 'sk-gw-test-key-alpha';
export const TEST_KEY_2 = 'sk-gw-test-key-bravo';
export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789abcdef';

export interface StackOptions {
  /** Extra YAML appended to the base config (budgets, keys, anonymous, ...). */
  extraYaml?: string;
  /** Replaces the default `keys:` section. */
  keysYaml?: string;
  store?: { type: 'sqlite'; path?: string } | { type: 'redis'; url: string; prefix?: string };
  storeExtra?: string;
  mock?: MockProviderOptions;
  /** Reuse a running mock instead of starting one. */
  mockProvider?: MockProvider;
  clock?: () => number;
  serverYaml?: string;
  /** Rewrites the whole config text before the gateway starts (e.g. to change a provider in place). */
  editConfig?: (yaml: string) => string;
  /** In providersYaml, this text is replaced by the mock's URL. */
  mockUrlPlaceholder?: string;
  /** Extra lines inside `providers:` and `models:` (indented two spaces). */
  providersYaml?: string;
  modelsYaml?: string;
  /**
   * admin.max_failed_attempts_per_minute. High by default: the security tests sweep every admin
   * route with wrong tokens from one client; the throttle has its own test (admin-throttle.test.ts).
   */
  adminFailedPerMinute?: number;
}

export interface Stack {
  gateway: Gateway;
  mock: MockProvider;
  records: RequestRecord[];
  dir: string;
  openai(key?: string, extra?: ConstructorParameters<typeof OpenAI>[0]): OpenAI;
  anthropic(key?: string, extra?: ConstructorParameters<typeof Anthropic>[0]): Anthropic;
  close(): Promise<void>;
}

export function baseConfigYaml(mockUrl: string, options: StackOptions, dir: string): string {
  const store = options.store ?? { type: 'sqlite' };
  const storeYaml =
    store.type === 'sqlite'
      ? `store: { type: sqlite, path: "${store.path ?? join(dir, 'gateway.db')}"${options.storeExtra ?? ''} }`
      : `store: { type: redis, url: "${store.url}", prefix: "${store.prefix ?? 'test'}"${options.storeExtra ?? ''} }`;
  return `
server: { host: 127.0.0.1, port: 0, log_level: silent${options.serverYaml ?? ''} }
${storeYaml}
admin: { token: "${ADMIN_TOKEN}", max_failed_attempts_per_minute: ${options.adminFailedPerMinute ?? 1_000_000} }
providers:
  openai: { kind: openai, base_url: "${mockUrl}/v1", api_key: "${OPENAI_UPSTREAM_KEY}" }
  anthropic: { kind: anthropic, base_url: "${mockUrl}", api_key: "${ANTHROPIC_UPSTREAM_KEY}" }
${options.mockUrlPlaceholder ? (options.providersYaml ?? '').replaceAll(options.mockUrlPlaceholder, mockUrl) : (options.providersYaml ?? '')}
models:
  gpt-4o: { provider: openai, input: 2.50, output: 10.00, cached_input: 1.25, max_output_tokens: 16384 }
  gpt-4o-mini: { provider: openai, input: 0.15, output: 0.60, cached_input: 0.075, max_output_tokens: 16384 }
  o3-mini: { provider: openai, input: 1.10, output: 4.40, cached_input: 0.55, max_output_tokens: 100000 }
  claude-sonnet-4-5: { provider: anthropic, input: 3.00, output: 15.00, cache_read: 0.30, cache_write: 3.75, max_output_tokens: 64000 }
  claude-haiku-4-5: { provider: anthropic, input: 1.00, output: 5.00, cache_read: 0.10, cache_write: 1.25, max_output_tokens: 64000 }
  text-embedding-3-small: { provider: openai, input: 0.02 }
${options.modelsYaml ?? ''}
${
  options.keysYaml ??
  `keys:
  - { id: alpha, key: "${TEST_KEY}", team: web, user: alice }
  - { id: bravo, key: "${TEST_KEY_2}", team: data, models: [gpt-4o-mini, text-embedding-3-small] }`
}
${options.extraYaml ?? ''}
`;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'llmgw-test-'));
  const mock =
    options.mockProvider ??
    (await startMockProvider({
      openaiApiKey: OPENAI_UPSTREAM_KEY,
      anthropicApiKey: ANTHROPIC_UPSTREAM_KEY,
      ...options.mock,
    }));
  const records: RequestRecord[] = [];
  const gateway = await startGateway({
    configText: (options.editConfig ?? ((yaml: string) => yaml))(baseConfigYaml(mock.url, options, dir)),
    env: {},
    clock: options.clock,
    onRecord: (record) => records.push(record),
  });
  return {
    gateway,
    mock,
    records,
    dir,
    openai: (key = TEST_KEY, extra = {}) =>
      new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1`, maxRetries: 0, ...extra }),
    anthropic: (key = TEST_KEY, extra = {}) =>
      new Anthropic({ apiKey: key, baseURL: gateway.url, maxRetries: 0, ...extra }),
    async close() {
      await gateway.close();
      if (!options.mockProvider) await mock.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until `check` passes or the time is up (for effects that finish after the response). */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
