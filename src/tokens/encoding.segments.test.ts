/**
 * tokenizerSegments' ASCII fast path answers what the long-run regex answers: one piece exactly
 * when no run of one character class passes MAX_RUN_CHARS, for any mix of runs (property).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  countTokens,
  MAX_RUN_CHARS,
  MAX_SEGMENT_CHARS,
  tokenizerSegments,
  tokenizerSegmentsOf,
} from './encoding.js';
import { tok } from './tokens.test-helpers.js';

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

  it('cuts a long text window by window with the counts of cutting its runs in the whole text (property)', () => {
    // The reference: runs found in the whole text, cut every MAX_RUN_CHARS from their start, the
    // rest whole; each piece counted by tiktoken. (The code finds them one window at a time.)
    const reference = (text: string) => {
      const pieces: string[] = [];
      let from = 0;
      for (const match of text.matchAll(new RegExp(LONG_RUN.source, 'gu'))) {
        if (match.index > from) pieces.push(text.slice(from, match.index));
        const end = match.index + match[0].length;
        for (let at = match.index; at < end; at += MAX_RUN_CHARS) {
          // Surrogate pairs: a run of '日' is BMP, so no pair is split here.
          pieces.push(text.slice(at, Math.min(at + MAX_RUN_CHARS, end)));
        }
        from = end;
      }
      if (from < text.length) pieces.push(text.slice(from));
      return pieces.reduce((sum, piece) => sum + tok(piece), 0);
    };
    const word = fc.constantFrom('budget ', 'limits, ', 'the ', '42 ', 'Caf\u00e9 ', '\n', 'x');
    const longRun = fc
      .tuple(fc.constantFrom('a', '=', ' ', '\n', '\u65e5'), fc.integer({ min: MAX_RUN_CHARS + 1, max: 400 }))
      .map(([char, length]) => char.repeat(length));
    const text = fc
      .array(fc.oneof({ weight: 30, arbitrary: word }, { weight: 1, arbitrary: longRun }), {
        minLength: 4_000,
        maxLength: 6_000,
      })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, (t) => {
        const segments = tokenizerSegments(t);
        expect(t.length).toBeGreaterThan(MAX_SEGMENT_CHARS);
        expect(segments.join('')).toBe(t);
        expect([...tokenizerSegmentsOf(t)]).toEqual(segments);
        expect(countTokens(t, 'o200k_base')).toBe(reference(t));
      }),
      { numRuns: 40 },
    );
  });
});
