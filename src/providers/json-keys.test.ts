import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { duplicateKeyError, findDuplicateKey } from './json-keys.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const find = (text: string) => findDuplicateKey(bytes(text));

describe('findDuplicateKey', () => {
  it('names a duplicated top-level key', () => {
    expect(find('{"model":"gpt-4o","model":"gpt-4o-mini"}')).toBe('model');
    expect(find('{"model":"gpt-4o","max_tokens":16000,"max_tokens":10}')).toBe('max_tokens');
  });

  it('names nested duplicates by their path', () => {
    expect(find('{"stream_options":{"include_usage":true,"include_usage":false}}')).toBe(
      'stream_options.include_usage',
    );
    expect(find('{"messages":[{"role":"user"},{"role":"user","content":"a","content":"b"}]}')).toBe(
      'messages[1].content',
    );
    expect(find('{"a":[[1,2],[{"x":1,"y":{"z":1,"z":2}}]]}')).toBe('a[1][0].y.z');
  });

  it('compares keys as JSON.parse reads them (escapes decoded)', () => {
    expect(find('{"model":"a","mod\\u0065l":"b"}')).toBe('model');
    expect(find('{"caf\\u00e9":1,"café":2}')).toBe('café');
    expect(find('{"a\\"b":1,"a\\\\":2,"a\\"b":3}')).toBe('a"b');
  });

  it('accepts distinct keys, equal keys in different objects, and keys inside strings', () => {
    expect(find('{"model":"x","messages":[{"role":"user"},{"role":"assistant"}]}')).toBeNull();
    expect(find('{"a":{"k":1},"b":{"k":1}}')).toBeNull();
    expect(find('{"text":"\\"model\\":1,\\"model\\":2","model":"m"}')).toBeNull();
    expect(find('{"s":"ends with a backslash \\\\","s2":"x"}')).toBeNull();
    expect(find(' { "a" : 1 , "b" : [ "a" , "a" ] } ')).toBeNull();
  });

  it('checks objects with many keys (the Set path)', () => {
    const keys = Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`);
    expect(find(`{${keys.join(',')}}`)).toBeNull();
    expect(find(`{${keys.join(',')},"k7":0}`)).toBe('k7');
  });

  it('gives up quietly on bytes that are not JSON', () => {
    for (const text of ['', '{', '{"a', '{"a":"b', '{"\\u12":1,"\\u12":2}', ']]]', '{"a":1}}}', '[[[[']) {
      expect(() => find(text)).not.toThrow();
    }
  });

  it('agrees with a reference parser on generated JSON', () => {
    // JSON.stringify never repeats a key: duplicate one key of a generated object and find it.
    const key = fc.string({ maxLength: 6 });
    fc.assert(
      fc.property(
        fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { minKeys: 1 }),
        fc.nat(),
        (object, pick) => {
          const text = JSON.stringify(object);
          expect(find(text)).toBeNull();
          const keys = Object.keys(object);
          const duplicated = keys[pick % keys.length] as string;
          const twice = `${text.slice(0, -1)},${JSON.stringify(duplicated)}:null}`;
          expect(find(twice)).toBe(duplicated);
        },
      ),
    );
  });

  it('answers a 400 naming the key', () => {
    const error = duplicateKeyError(bytes('{"model":"a","model":"b"}'));
    expect(error?.status).toBe(400);
    expect(error?.code).toBe('invalid_request');
    expect(error?.param).toBe('model');
    expect(error?.message).toContain("'model'");
    expect(duplicateKeyError(bytes('{"model":"a"}'))).toBeNull();
  });

  it('scans a 4 MB body in one pass', () => {
    const text = 'The budget is shared across teams; every token counts. '.repeat(1200);
    const messages = Array.from({ length: 60 }, (_, i) => ({
      role: i % 2 ? 'assistant' : 'user',
      content: text,
    }));
    const ids = Array.from({ length: 200_000 }, (_, i) => i % 50_000);
    const body = bytes(JSON.stringify({ model: 'gpt-4o', messages, prompt: [ids], max_tokens: 5 }));
    expect(body.length).toBeGreaterThan(4_000_000);
    findDuplicateKey(body);
    const started = performance.now();
    expect(findDuplicateKey(body)).toBeNull();
    const ms = performance.now() - started;
    const parseStarted = performance.now();
    JSON.parse(body.toString('utf8'));
    const parseMs = performance.now() - parseStarted;
    console.log(
      `findDuplicateKey on ${(body.length / 1e6).toFixed(1)} MB: ${ms.toFixed(1)} ms (JSON.parse: ${parseMs.toFixed(1)} ms)`,
    );
    // The figure is printed, not asserted (no timed assertions: a loaded machine varies it).
  });
});
