/** models.<name>.long_context: compiled to a pico-USD tier, cache prices defaulting to the tier's input. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';

const config = (tier: string) => `
providers:
  anthropic: { kind: anthropic, base_url: "http://127.0.0.1:9", api_key: k }
models:
  sonnet: { provider: anthropic, input: 3, output: 15, cache_read: 0.3, cache_write: 3.75${tier} }
`;

describe('long_context', () => {
  it('compiles to prices in pico-USD per token', () => {
    const parsed = parseConfig(
      config(', long_context: { above_input_tokens: 200000, input: 6, output: 22.5, cache_read: 0.6 }'),
      't',
      {},
    );
    expect(parsed.models.get('sonnet')?.price.longContext).toEqual({
      aboveInputTokens: 200_000,
      input: 6_000_000,
      output: 22_500_000,
      cachedInput: 600_000,
      cacheWrite: 6_000_000,
    });
  });

  it('is absent when not configured', () => {
    expect(parseConfig(config(''), 't', {}).models.get('sonnet')?.price.longContext).toBeUndefined();
  });

  it('refuses a tier without an output price or with an unknown field', () => {
    expect(() =>
      parseConfig(config(', long_context: { above_input_tokens: 200000, input: 6 }'), 't', {}),
    ).toThrow(/long_context\.output/);
    expect(() =>
      parseConfig(
        config(', long_context: { above_input_tokens: 1, input: 6, output: 9, extra: 1 }'),
        't',
        {},
      ),
    ).toThrow(/long_context/);
  });
});
