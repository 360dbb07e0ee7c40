import { describe, expect, it } from 'vitest';
import { contextTokensOf, ResponseTokenMemory } from './response-memory.js';

describe('ResponseTokenMemory', () => {
  it('remembers context tokens by response id', () => {
    const memory = new ResponseTokenMemory(10);
    memory.remember('resp_1', 1200);
    expect(memory.contextTokens('resp_1')).toBe(1200);
    expect(memory.contextTokens('resp_2')).toBeUndefined();
    memory.remember('resp_1', 1500);
    expect(memory.contextTokens('resp_1')).toBe(1500);
    expect(memory.size).toBe(1);
  });

  it('forgets the least recently used response first', () => {
    const memory = new ResponseTokenMemory(3);
    memory.remember('a', 1);
    memory.remember('b', 2);
    memory.remember('c', 3);
    expect(memory.contextTokens('a')).toBe(1); // a is now the most recently used
    memory.remember('d', 4);
    expect(memory.size).toBe(3);
    expect(memory.contextTokens('b')).toBeUndefined();
    expect(memory.contextTokens('a')).toBe(1);
    expect(memory.contextTokens('c')).toBe(3);
    expect(memory.contextTokens('d')).toBe(4);
  });

  it('ignores ids and counts it cannot use, and refuses a useless capacity', () => {
    const memory = new ResponseTokenMemory(2);
    memory.remember('', 5);
    memory.remember('x', Number.NaN);
    memory.remember('y', -1);
    expect(memory.size).toBe(0);
    memory.remember('z', 10.2);
    expect(memory.contextTokens('z')).toBe(11);
    expect(() => new ResponseTokenMemory(0)).toThrow(RangeError);
  });

  it('counts everything the response leaves in the context', () => {
    expect(
      contextTokensOf({
        inputTokens: 100,
        cachedInputTokens: 900,
        cacheWriteTokens: 0,
        outputTokens: 250,
        reasoningTokens: 200,
      }),
    ).toBe(1250);
  });
});
