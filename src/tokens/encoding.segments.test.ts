/**
 * tokenizerSegments' ASCII fast path answers what the long-run regex answers: one piece exactly
 * when no run of one character class passes MAX_RUN_CHARS, for any mix of runs (property).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_RUN_CHARS, tokenizerSegments } from './encoding.js';

/** The rule, written independently of the code under test. */
const LONG_RUN = new RegExp(
  `[\\p{L}\\p{M}]{${MAX_RUN_CHARS + 1},}|[^\\s\\p{L}\\p{N}]{${MAX_RUN_CHARS + 1},}|\\s{${MAX_RUN_CHARS + 1},}`,
  'u',
);

const run = fc
  .tuple(
    fc.constantFrom('a', 'Z', '.', '-', ' ', '\n', '\t', '7', '\u0000', '~', 'é', '日'),
    fc.integer({ min: 1, max: 200 }),
  )
  .map(([char, length]) => char.repeat(length));

describe('tokenizerSegments', () => {
  it('is one piece exactly when no run is too long, and always joins back to the text (property)', () => {
    fc.assert(
      fc.property(fc.array(run, { minLength: 1, maxLength: 12 }), (runs) => {
        const text = runs.join('');
        const segments = tokenizerSegments(text);
        expect(segments.join('')).toBe(text);
        if (text.length > MAX_RUN_CHARS) expect(segments.length === 1).toBe(!LONG_RUN.test(text));
      }),
      { numRuns: 500 },
    );
  });

  it('cuts long ordinary ASCII prose only at word ends, never around a run', () => {
    const prose = 'The budget resets at midnight; 42 requests were served.\n'.repeat(5_000);
    const segments = tokenizerSegments(prose);
    expect(segments.join('')).toBe(prose);
    for (const segment of segments.slice(1)) expect(segment).toMatch(/^ [a-z0-9]/);
  });
});
