/**
 * Config files from the wild: any YAML, any mutation of the shipped config, either loads or fails
 * with a ConfigError listing problems by path — never another exception.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const SHIPPED = readFileSync('config/gateway.yaml', 'utf8');
const PATHS = [
  ['server', 'port'],
  ['server', 'max_body_bytes'],
  ['store', 'type'],
  ['store', 'on_unavailable'],
  ['providers', 'openai', 'base_url'],
  ['providers', 'openai', 'kind'],
  ['models', 'gpt-4o', 'input'],
  ['models', 'gpt-4o', 'provider'],
  ['keys', 0, 'key_sha256'],
  ['keys', 0],
  ['budgets', 0, 'limit_usd'],
  ['budgets', 0, 'scope'],
  ['budgets', 0, 'timezone'],
  ['budgets', 0, 'thresholds', 1, 'downgrade'],
  ['budgets', 1, 'period'],
  ['anonymous', 'models'],
  ['anonymous', 'identify_by'],
  ['alerts', 'webhooks'],
] as const;

function setPath(root: Record<string, unknown>, path: readonly (string | number)[], value: unknown): void {
  let node: any = root;
  for (const part of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return;
    node = node[part];
  }
  if (node !== null && typeof node === 'object') node[path[path.length - 1] as string] = value;
}

function loadsOrListsProblems(text: string): void {
  try {
    parseConfig(text, 'fuzz.yaml', {});
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) expect(problem).toMatch(/^[^\s].*: /);
  }
}

describe('config fuzzing', () => {
  it('mutations of the shipped config load or list their problems', () => {
    const base = parseConfigToObject();
    fc.assert(
      fc.property(
        fc.array(fc.record({ path: fc.constantFrom(...PATHS), value: fc.jsonValue() }), {
          minLength: 1,
          maxLength: 4,
        }),
        (mutations) => {
          const doc = structuredClone(base);
          for (const m of mutations) setPath(doc, m.path, m.value);
          loadsOrListsProblems(stringify(doc));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('arbitrary text loads or lists its problems', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.jsonValue().map((v) => stringify(v)),
        ),
        (text) => {
          loadsOrListsProblems(text);
        },
      ),
      { numRuns: 300 },
    );
  });
});

function parseConfigToObject(): Record<string, unknown> {
  // The shipped file as plain data, so mutations start from a valid config.
  return parse(SHIPPED) as Record<string, unknown>;
}
