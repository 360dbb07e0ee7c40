import { describe, expect, it } from 'vitest';
import { contextTokensOf, ResponseTokenMemory, responseOwner } from './response-memory.js';

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

  it('says whom a response was served to and by which provider; none when it was not told', () => {
    const memory = new ResponseTokenMemory(10);
    memory.remember('resp_1', 10, { owner: 'key:alpha', provider: 'openai' });
    memory.remember('resp_2', 10);
    expect(memory.served('resp_1')).toEqual({ owner: 'key:alpha', provider: 'openai' });
    expect(memory.served('resp_2')).toBeUndefined();
    expect(memory.served('resp_3')).toBeUndefined();
    expect(memory.contextTokens('resp_1')).toBe(10);
  });

  it('owners: a key by its id, a trial user by its user id, an anonymous caller without one by nothing', () => {
    expect(responseOwner({ keyId: 'alpha', anonymous: false })).toBe('key:alpha');
    expect(responseOwner({ keyId: 'anonymous', user: 'anon:v1', anonymous: true })).toBe('anonymous:anon:v1');
    expect(responseOwner({ keyId: 'anonymous', anonymous: true })).toBeUndefined();
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
