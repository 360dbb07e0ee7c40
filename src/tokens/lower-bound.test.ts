/** The byte bounds hold around the exact estimate, for every encoding and the texts that stress them. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encoder } from './encoding.js';
import { promptTokens } from './estimate.js';
import { MAX_BYTES_PER_TOKEN, PRECHECK_MIN_CHARS, pieceFloor, promptTokenBounds } from './lower-bound.js';
import { tok } from './tokens.test-helpers.js';

const big = (unit: string) => unit.repeat(Math.ceil((PRECHECK_MIN_CHARS + 1) / unit.length));

const texts: Record<string, string> = {
  prose: big('Budgets keep spend inside limits while the gateway counts every token. '),
  spaces: big(' '),
  dashes: big('-'),
  cjk: big('预算限制了支出。'),
  emoji: big('👩‍👩‍👧‍👦🙂'),
  lone: big('a\ud800b'),
  mixed: big('x = [1, 2, 3];\n\t\t  // 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u00e9\u0301 '),
};

describe('prompt token bounds', () => {
  it('the longest token of o200k_base and cl100k_base is MAX_BYTES_PER_TOKEN bytes', () => {
    // Ordinary ids only (encode_ordinary never yields the special tokens above them).
    for (const [name, ids] of [
      ['o200k_base', 199_998],
      ['cl100k_base', 100_256],
    ] as const) {
      const enc = encoder(name);
      let longest = 0;
      for (let id = 0; id < ids; id++) longest = Math.max(longest, enc.decode_single_token_bytes(id).length);
      expect({ name, longest }).toEqual({ name, longest: MAX_BYTES_PER_TOKEN });
    }
  }, 60_000);

  for (const model of ['gpt-4o', 'gpt-4', 'claude-sonnet-4-5', 'gemini-2.5-pro']) {
    it(`lower <= exact <= upper for ${model}`, () => {
      for (const [name, text] of Object.entries(texts)) {
        const body = { model, messages: [{ role: 'user', content: text }] };
        const exact = promptTokens('chat', body, model);
        const bounds = promptTokenBounds('chat', body, model);
        expect(bounds, name).toBeDefined();
        expect(bounds!.lower, name).toBeLessThanOrEqual(exact);
        expect(bounds!.upper, name).toBeGreaterThanOrEqual(exact);
      }
    }, 60_000);
  }

  it('the piece floor never exceeds what tiktoken counts (property, both encodings)', () => {
    // Words and gaps that sit at the pre-tokenizers' edges: contractions, upper case after lower,
    // combining marks, digits glued to letters, non-ASCII white space, CR/LF, lone surrogates.
    const word = fc.oneof(
      fc.constantFrom(
        'budget',
        "it's",
        "DON'T",
        "'s",
        'Caf\u00e9',
        'e\u0301',
        'camelCase',
        'ABCdef',
        'x1',
        '42',
        '\u65e5\u672c',
        '\u{1f600}',
        '->',
        '.',
        "'",
        '"',
        '\ud800',
        'Z',
      ),
      fc.string({ unit: 'grapheme', maxLength: 4 }),
    );
    const gap = fc.constantFrom(' ', '', '  ', '\n', '\t', ' \n', '\r\n', '\u00a0', '\u3000');
    const text = fc
      .array(fc.tuple(word, gap), { maxLength: 400 })
      .map((pairs) => pairs.map(([w, g]) => w + g).join(''));
    fc.assert(
      fc.property(text, (t) => {
        expect(pieceFloor(t)).toBeLessThanOrEqual(tok(t));
        expect(pieceFloor(t)).toBeLessThanOrEqual(tok(t, 'cl100k_base'));
      }),
      { numRuns: 500 },
    );
  });

  it('the piece floor is what makes the bound useful on prose: most of the count, not 1/30', () => {
    const text = texts.prose!;
    const exact = tok(text);
    expect(pieceFloor(text)).toBeGreaterThan(exact * 0.6);
    expect(pieceFloor(text)).toBeLessThanOrEqual(exact);
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: text }] };
    expect(promptTokenBounds('chat', body, 'gpt-4o')!.lower).toBeGreaterThan(
      promptTokens('chat', body, 'gpt-4o') * 0.6,
    );
    // Counted per pair, not per space: a space after a digit, a dot or another space adds nothing.
    expect(pieceFloor('a b')).toBe(2);
    expect(pieceFloor('1 2 . ,  x')).toBe(1);
    expect(pieceFloor('')).toBe(0);
  });

  it('gives nothing for a prompt below PRECHECK_MIN_CHARS', () => {
    const body = {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'x'.repeat(PRECHECK_MIN_CHARS - 100) }],
    };
    expect(promptTokenBounds('chat', body, 'gpt-4o')).toBeUndefined();
  });
});
