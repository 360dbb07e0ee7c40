import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLAUDE_MARGIN,
  countTokens,
  encodingForModel,
  isClaudeModel,
  MAX_RUN_CHARS,
  MAX_SEGMENT_CHARS,
  tokenizerSegments,
} from './encoding.js';
import { realisticText, tok } from './tokens.test-helpers.js';

describe('encodingForModel', () => {
  it('picks o200k_base for current OpenAI models and Claude', () => {
    for (const m of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-5', 'o3-mini', 'o1', 'claude-sonnet-4-5']) {
      expect(encodingForModel(m)).toBe('o200k_base');
    }
  });
  it('picks cl100k_base for older GPT models and embeddings', () => {
    for (const m of ['gpt-4', 'gpt-4-turbo', 'gpt-3.5-turbo', 'text-embedding-3-small', 'davinci-002']) {
      expect(encodingForModel(m)).toBe('cl100k_base');
    }
  });
  it('knows Claude models and their margin', () => {
    expect(isClaudeModel('claude-haiku-4-5')).toBe(true);
    expect(isClaudeModel('gpt-4o')).toBe(false);
    expect(CLAUDE_MARGIN).toBeGreaterThan(1);
  });
});

describe('countTokens', () => {
  it('matches tiktoken exactly on ordinary text', () => {
    const text = realisticText(200_000);
    expect(countTokens(text, 'o200k_base')).toBe(tok(text));
    expect(countTokens(text, 'cl100k_base')).toBe(tok(text, 'cl100k_base'));
    expect(countTokens('', 'o200k_base')).toBe(0);
  });
  it('counts special-token text as ordinary text instead of throwing', () => {
    expect(countTokens('<|endoftext|>', 'o200k_base')).toBe(tok('<|endoftext|>'));
  });
  it('stays fast on a pathological single-letter run (quadratic BPE is avoided)', () => {
    const run = 'a'.repeat(200_000);
    const started = performance.now();
    const n = countTokens(run, 'o200k_base');
    // Unsplit, tiktoken needs ~9 s for 100k chars; split it is ~40 ms. A generous bound.
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(n).toBeGreaterThanOrEqual(Math.floor(200_000 / 8));
    expect(n).toBeLessThan(200_000 / 4);
  });
});

describe('tokenizerSegments', () => {
  it('leaves ordinary text whole up to MAX_SEGMENT_CHARS, and cuts longer text at word ends', () => {
    const short = realisticText(MAX_SEGMENT_CHARS - 100).slice(0, MAX_SEGMENT_CHARS);
    expect(tokenizerSegments(short)).toEqual([short]);
    const text = realisticText(100_000);
    const segments = tokenizerSegments(text);
    expect(segments.join('')).toBe(text);
    expect(segments.length).toBeGreaterThanOrEqual(Math.floor(text.length / MAX_SEGMENT_CHARS));
    for (const [i, segment] of segments.entries()) {
      expect(segment.length).toBeLessThanOrEqual(MAX_SEGMENT_CHARS);
      // Each cut sits between a letter and the space after it.
      if (i > 0) expect(segment[0]).toBe(' ');
      if (i < segments.length - 1) expect(segment.at(-1)).toMatch(/[A-Za-z]/);
    }
  });
  it('counts text cut at word ends exactly as tiktoken counts it whole (property, both encodings)', () => {
    const word = fc.constantFrom(
      'budget',
      "it's",
      "DON'T",
      "we're",
      'Caf\u00e9',
      '\u65e5\u672c\u8a9e',
      '42',
      '1234567',
      '->',
      '...',
      '  ',
      '\n',
      '\t',
      '\r\n',
      '\u{1f600}',
      'x',
      'A',
      'e\u0301',
      '(',
      '"',
      "'",
      '\u00a0',
    );
    const text = fc
      .array(fc.tuple(word, fc.constantFrom(' ', '', ' ', '\n', '  ')), {
        minLength: 3_000,
        maxLength: 5_000,
      })
      .map((pairs) => pairs.map(([w, gap]) => w + gap).join(''));
    fc.assert(
      fc.property(text, (t) => {
        expect(tokenizerSegments(t).length).toBeGreaterThan(1);
        expect(countTokens(t, 'o200k_base')).toBe(tok(t));
        expect(countTokens(t, 'cl100k_base')).toBe(tok(t, 'cl100k_base'));
      }),
      { numRuns: 40 },
    );
  });
  it('cuts long runs into short pieces and loses nothing', () => {
    const text = `start ${'x'.repeat(1000)} middle ${' '.repeat(500)}${'='.repeat(300)} end`;
    const segments = tokenizerSegments(text);
    expect(segments.join('')).toBe(text);
    for (const s of segments) expect(s.length).toBeLessThanOrEqual(MAX_RUN_CHARS + 200);
    expect(segments.length).toBeGreaterThan(10);
  });
  it('never splits a surrogate pair', () => {
    const text = '𝒜'.repeat(400);
    for (const s of tokenizerSegments(text)) {
      const last = s.charCodeAt(s.length - 1);
      expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
    }
  });
  it('always reassembles to the original text (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.constantFrom('a'.repeat(300), ' '.repeat(200), '-'.repeat(150))), {
          maxLength: 8,
        }),
        (chunks) => {
          const text = chunks.join('');
          expect(tokenizerSegments(text).join('')).toBe(text);
        },
      ),
    );
  });
});
