import { get_encoding } from 'tiktoken';
import { afterAll, describe, expect, it } from 'vitest';
import { GENERATOR_TOKENS, generatedText, textChunks } from './text.js';

const o200k = get_encoding('o200k_base');
const cl100k = get_encoding('cl100k_base');
afterAll(() => {
  o200k.free();
  cl100k.free();
});

describe('generated text', () => {
  it('uses only words that are one token in both encodings', () => {
    for (const word of GENERATOR_TOKENS) {
      expect([word, o200k.encode_ordinary(word).length, cl100k.encode_ordinary(word).length]).toEqual([
        word,
        1,
        1,
      ]);
    }
  });

  it.each([0, 1, 2, 7, 20, 129, 130, 131, 400, 1000])(
    'is exactly %i tokens in o200k_base and cl100k_base',
    (n) => {
      const text = generatedText(n);
      expect(o200k.encode_ordinary(text).length).toBe(n);
      expect(cl100k.encode_ordinary(text).length).toBe(n);
    },
  );

  it('is deterministic and each text extends the shorter ones', () => {
    expect(generatedText(5)).toBe(generatedText(5));
    expect(generatedText(50).startsWith(generatedText(5))).toBe(true);
    expect(generatedText(5)).not.toBe(generatedText(6));
  });

  it.each([
    [20, undefined, 20],
    [20, 3, 3],
    [7, 7, 7],
    [3, 10, 3],
    [0, 5, 0],
  ])('splits %i tokens into %s chunks (%i pieces) that add back up', (tokens, chunks, pieces) => {
    const split = textChunks(tokens, chunks);
    expect(split).toHaveLength(pieces);
    expect(split.map((c) => c.text).join('')).toBe(generatedText(tokens));
    expect(split.reduce((sum, c) => sum + c.tokens, 0)).toBe(tokens);
    for (const c of split) expect(o200k.encode_ordinary(c.text).length).toBe(c.tokens);
    if (pieces > 0) {
      const sizes = split.map((c) => c.tokens);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });
});
