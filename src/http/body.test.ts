import { describe, expect, it } from 'vitest';
import { BIG_BODY_BYTES, parseJsonObjectInTurn } from './body.js';

const big = (tag: string) =>
  Buffer.from(JSON.stringify({ tag, messages: [{ role: 'user', content: 'x'.repeat(BIG_BODY_BYTES) }] }));

describe('parseJsonObjectInTurn', () => {
  it('parses big bodies one per event-loop turn, in order, and lets a small body through between them', async () => {
    const order: string[] = [];
    const bigs = ['a', 'b', 'c'].map((tag) =>
      parseJsonObjectInTurn(big(tag)).then((body) => order.push(String(body.tag))),
    );
    // Arrives after three big bodies were queued: parsed at once, before any of them.
    const small = parseJsonObjectInTurn(Buffer.from('{"tag":"small"}')).then((body) =>
      order.push(String(body.tag)),
    );
    await Promise.all([...bigs, small]);
    expect(order).toEqual(['small', 'a', 'b', 'c']);
  });

  it('a big body that is not JSON is refused, and the ones behind it still parse', async () => {
    const bad = parseJsonObjectInTurn(Buffer.from(`{"x": "${'y'.repeat(BIG_BODY_BYTES)}`));
    const next = parseJsonObjectInTurn(big('after'));
    await expect(bad).rejects.toThrow(/not valid JSON/);
    await expect(next).resolves.toMatchObject({ tag: 'after' });
  });
});
