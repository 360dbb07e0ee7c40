import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './load.js';

const BASE = `
providers:
  openai: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }
models:
  gpt-4o: { provider: openai, input: 2.5, output: 10, max_output_tokens: 16384 }
`;

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, 'test.yaml', env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('history store config', () => {
  it('defaults to the budget store, its own SQLite file, and a 100 000-record buffer', () => {
    const config = parseConfig(BASE, 't', {});
    expect(config.history.store).toEqual({ type: 'same', url: undefined, path: undefined });
    expect(config.history.bufferMaxEntries).toBe(100_000);
  });

  it('postgres with a URL from the environment (the password stays out of problems)', () => {
    const config = parseConfig(
      `${BASE}history: { store: postgres, url: "postgres://gw:\${PG_PASSWORD}@db:5432/gw", buffer_max_entries: 500 }`,
      't',
      { PG_PASSWORD: 's3cret-pw' },
    );
    expect(config.history.store).toEqual({
      type: 'postgres',
      url: 'postgres://gw:s3cret-pw@db:5432/gw',
      path: undefined,
    });
    expect(config.history.bufferMaxEntries).toBe(500);
    const bad = problemsOf(`${BASE}history: { store: postgres, url: "mysql://gw:s3cret-pw@db/gw" }`);
    expect(bad).toEqual(['history.url: expected a postgres:// or postgresql:// URL']);
    expect(bad.join('\n')).not.toContain('s3cret-pw');
  });

  it('names what is missing or misplaced', () => {
    expect(problemsOf(`${BASE}history: { store: postgres }`)).toEqual([
      'history.url: required when history.store is postgres (e.g. postgres://gateway@127.0.0.1:5432/gateway)',
    ]);
    expect(problemsOf(`${BASE}history: { url: "postgres://db/gw" }`)).toEqual([
      'history.url: only used when history.store is postgres',
    ]);
    expect(
      problemsOf(`${BASE}store: { type: redis, url: "redis://127.0.0.1:1" }\nhistory: { path: h.db }`),
    ).toEqual(['history.path: only used with the SQLite store and history.store same']);
    expect(problemsOf(`${BASE}history: { store: mysql }`).join()).toContain('history.store');
    expect(problemsOf(`${BASE}history: { buffer_max_entries: 0 }`).join()).toContain(
      'history.buffer_max_entries',
    );
  });
});
