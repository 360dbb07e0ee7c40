import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig } from './load.js';

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, 'test.yaml', env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

const BASE = `
providers:
  openai: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }
models:
  gpt-4o: { provider: openai, input: 2.5, output: 10, max_output_tokens: 16384 }
  gpt-4o-mini: { provider: openai, input: 0.15, output: 0.6 }
`;

describe('config loading', () => {
  it('accepts the shipped config/gateway.yaml with no environment set', () => {
    const config = loadConfigFile('config/gateway.yaml', {});
    expect(config.models.get('gpt-4o')?.price.input).toBe(2_500_000);
    expect(config.models.get('gpt-4o-mini')?.price.cachedInput).toBe(75_000);
    expect(config.budgets.map((b) => b.id)).toEqual([
      'web-monthly',
      'per-user-daily',
      'openai-monthly',
      'everything',
    ]);
    expect(config.budgets[0]?.limitNano).toBe(500_000_000_000);
    expect(config.budgets[0]?.rolloverMaxNano).toBe(100_000_000_000);
    expect(config.server.maxBodyBytes).toBe(4 * 1024 * 1024);
    expect(config.adminToken).toBe('');
    expect(
      config.keysByHash.get('5abc91c95a62051fe5f0ce41798162b0edad40c18ac5c4927d43157b0df13f6a')?.id,
    ).toBe('web-app');
  });

  it('interpolates NAME and NAME:-default references, typing whole-value numbers', () => {
    const text = `server: { port: "\${PORT:-8123}", host: "\${HOST:-0.0.0.0}" }\nadmin: { token: "pre-\${TOKEN}-post-long-enough-for-an-admin-token" }\n${BASE}`;
    const config = parseConfig(text, 't', { TOKEN: 'abc', PORT: '9001' });
    expect(config.server.port).toBe(9001);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.adminToken).toBe('pre-abc-post-long-enough-for-an-admin-token');
    const defaulted = parseConfig(text, 't', { TOKEN: 'x' });
    expect(defaulted.server.port).toBe(8123);
  });

  it('names a missing environment variable with its path', () => {
    const problems = problemsOf(`admin: { token: "\${GATEWAY_TOKEN_XYZ}" }\n${BASE}`);
    expect(problems).toEqual([
      expect.stringContaining('admin.token: environment variable GATEWAY_TOKEN_XYZ is not set'),
    ]);
  });

  it('keeps a secret with YAML-special characters intact', () => {
    const config = parseConfig(
      `providers:\n  openai: { kind: openai, base_url: "http://x/v1", api_key: "\${KEY}" }\n`,
      't',
      { KEY: 'a"b#c: d' },
    );
    expect(config.providers.get('openai')?.apiKey).toBe('a"b#c: d');
  });

  it('lists every problem by path', () => {
    const problems = problemsOf(`${BASE}
budgets:
  - { id: a, scope: global, limit_usd: 1 }
  - { id: b, scope: { team: x }, limit_usd: 2, period: yearly }
  - { id: c, scope: global, limit_usd: -5 }
server: { port: "abc" }
`);
    expect(problems).toContain('budgets[2].limit_usd: expected a positive number');
    expect(problems.some((p) => p.startsWith('budgets[1].period:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('server.port:'))).toBe(true);
    expect(problems.length).toBe(3);
  });

  it('rejects unknown fields, references and time zones', () => {
    const problems = problemsOf(`${BASE}
keys:
  - { id: k1, key: "sk-gw-test-1234", models: [gpt-9] }
  - { id: k1, key_sha256: "${'a'.repeat(64)}" }
  - { id: k3 }
budgets:
  - { id: a, scope: { model: nope }, limit_usd: 1, timezone: Mars/Olympus }
  - { id: a, scope: global, limit_usd: 1 }
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'keys[0].models[0]: unknown model gpt-9',
        'keys[1].id: duplicate key id k1',
        'keys[2]: expected exactly one of key or key_sha256',
        'budgets[0].scope.model: unknown model nope',
        'budgets[0].timezone: unknown time zone Mars/Olympus',
      ]),
    );
    expect(problems).toContain('budgets[1].id: duplicate budget id a');
    const unknownField = problemsOf(
      `${BASE}\nbudgets: [{ id: a, scope: global, limit_usd: 1, colour: blue }]\n`,
    );
    expect(unknownField).toEqual(['budgets[0]: Unrecognized key: "colour"']);
  });

  it('rejects downgrade maps naming unknown models or forming cycles', () => {
    const problems = problemsOf(`${BASE}
budgets:
  - id: a
    scope: global
    limit_usd: 1
    thresholds:
      - { at: 0.5, downgrade: { gpt-4o: gpt-4o-mini, gpt-4o-mini: gpt-4o } }
      - { at: 0.9, downgrade: { gpt-4o: gpt-5-nano } }
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^budgets\[0\]\.thresholds\[0\]\.downgrade\.gpt-4o: downgrade cycle/),
        'budgets[0].thresholds[1].downgrade.gpt-4o: unknown model gpt-5-nano',
      ]),
    );
  });

  it('checks fallbacks: known models of the same API', () => {
    const problems = problemsOf(
      `${BASE}
providers:
  anthropic: { kind: anthropic, base_url: "http://127.0.0.1:9", api_key: k }
`.replace('providers:\n  openai', 'providers:\n  openai'),
    );
    expect(problems.length).toBeGreaterThan(0); // duplicate providers key is a YAML problem
    const text = `
providers:
  openai: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }
  anthropic: { kind: anthropic, base_url: "http://127.0.0.1:9", api_key: k }
models:
  gpt-4o: { provider: openai, input: 2.5, output: 10 }
  gpt-4o-mini: { provider: openai, input: 0.15, output: 0.6 }
  claude-haiku-4-5: { provider: anthropic, input: 1, output: 5 }
fallbacks:
  gpt-4o: [gpt-4o-mini, claude-haiku-4-5, gpt-9, gpt-4o]
  nope: [gpt-4o]
`;
    expect(problemsOf(text)).toEqual([
      'fallbacks.gpt-4o[1]: claude-haiku-4-5 speaks the anthropic API, gpt-4o the openai API',
      'fallbacks.gpt-4o[2]: unknown model gpt-9',
      'fallbacks.gpt-4o[3]: a model cannot fall back to itself',
      'fallbacks.nope: unknown model nope',
    ]);
  });

  it('requires store.url for the redis store', () => {
    expect(problemsOf(`store: { type: redis }\n${BASE}`)).toContain(
      'store.url: required when store.type is redis (e.g. redis://127.0.0.1:6379)',
    );
  });

  it('reports YAML syntax errors', () => {
    expect(problemsOf('models: [unclosed')[0]).toMatch(/^yaml: /);
  });

  it('sets max_completion_tokens as the cap field for o-series and gpt-5', () => {
    const config = parseConfig(
      `${BASE}  o3-mini: { provider: openai, input: 1.1, output: 4.4 }\n  gpt-5: { provider: openai, input: 1.25, output: 10 }\n`,
      't',
      {},
    );
    expect(config.models.get('o3-mini')?.capField).toBe('max_completion_tokens');
    expect(config.models.get('gpt-5')?.capField).toBe('max_completion_tokens');
    expect(config.models.get('gpt-4o')?.capField).toBe('max_tokens');
  });

  it('ships a JSON Schema generated from the zod schema', async () => {
    const { configJsonSchema } = await import('./json-schema.js');
    const shipped = JSON.parse(readFileSync('config/gateway.schema.json', 'utf8'));
    // If this fails, run `npm run schema` and commit config/gateway.schema.json.
    expect(shipped).toEqual(configJsonSchema());
  });
});
