/**
 * The token-count cache: answers exactly what tiktoken counts, serves repeated texts (a system
 * prompt, earlier turns) from memory, stays within its bounds, and lets a large prompt made of
 * recently counted texts skip the worker without changing the count.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  cachedCount,
  clearCountCache,
  countCacheSize,
  countTextTokens,
  MAX_CACHED_CHARS,
} from './count-cache.js';
import { countTokens } from './encoding.js';
import { countPromptTokens, promptTokens } from './estimate.js';
import { realisticText, tok } from './tokens.test-helpers.js';

beforeEach(() => clearCountCache());

describe('token count cache', () => {
  it('answers what tiktoken counts, the first time and from the cache', () => {
    const texts = [realisticText(500), realisticText(3_000), 'héllo wörld ✓ 日本語', 'a'.repeat(400)];
    for (const text of texts) {
      const expected = countTokens(text, 'o200k_base');
      expect(cachedCount(text, 'o200k_base')).toBeUndefined();
      expect(countTextTokens(text, 'o200k_base')).toBe(expected);
      expect(cachedCount(text, 'o200k_base')).toBe(expected);
      expect(countTextTokens(text, 'o200k_base')).toBe(expected);
    }
    expect(countTextTokens(realisticText(500), 'cl100k_base')).toBe(tok(realisticText(500), 'cl100k_base'));
    expect(countCacheSize().entries).toBe(texts.length + 1);
  });

  it('keeps counts per encoding apart', () => {
    const text = realisticText(800);
    countTextTokens(text, 'o200k_base');
    expect(cachedCount(text, 'cl100k_base')).toBeUndefined();
    expect(countTextTokens(text, 'cl100k_base')).toBe(tok(text, 'cl100k_base'));
  });

  it('never keeps texts longer than its per-entry limit', () => {
    const text = realisticText(MAX_CACHED_CHARS + 1);
    expect(countTextTokens(text, 'o200k_base')).toBe(countTokens(text, 'o200k_base'));
    expect(countCacheSize()).toEqual({ entries: 0, chars: 0 });
  });

  it('stays within its bounds, dropping texts not used lately first', () => {
    const keep = `system prompt ${realisticText(200)}`;
    countTextTokens(keep, 'o200k_base');
    for (let i = 0; i < 12_000; i++) {
      countTextTokens(`user message ${i}`, 'o200k_base');
      if (i % 1000 === 0) countTextTokens(keep, 'o200k_base'); // used now and then: stays
    }
    const size = countCacheSize();
    expect(size.entries).toBeLessThanOrEqual(10_000);
    expect(size.chars).toBeLessThanOrEqual(1_000_000 + MAX_CACHED_CHARS);
    expect(cachedCount('user message 0', 'o200k_base')).toBeUndefined();
    expect(cachedCount('user message 11999', 'o200k_base')).toBeDefined();
    expect(cachedCount(keep, 'o200k_base')).toBe(countTokens(keep, 'o200k_base'));
  });

  it('counts a large prompt of known turns like the uncached count', async () => {
    // 20 turns of 1,500 characters: above the worker threshold in total, each turn cacheable.
    const turns = Array.from({ length: 20 }, (_, i) => ({
      role: i % 2 === 0 ? 'user' : 'assistant',
      content: `turn ${i}: ${realisticText(1_500)}`,
    }));
    const body = { model: 'gpt-4o', messages: turns };
    const expected = promptTokens('chat', body, 'gpt-4o');
    clearCountCache();
    expect(await countPromptTokens('chat', body, 'gpt-4o')).toBe(expected); // cold: worker
    for (const turn of turns) countTextTokens(turn.content, 'o200k_base');
    const next = { ...body, messages: [...turns, { role: 'user', content: 'and one more question' }] };
    expect(await countPromptTokens('chat', next, 'gpt-4o')).toBe(promptTokens('chat', next, 'gpt-4o'));
  });
});
