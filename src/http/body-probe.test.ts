/** The body probe's worker answers what the pre-check needs, from the full body, and forgets it when told. */
import { afterAll, describe, expect, it } from 'vitest';
import type { ApiShape } from '../providers/types.js';
import { promptTokenBounds } from '../tokens/lower-bound.js';
import { bodiesProbed, closeBodyProbe, PROBE_MIN_BYTES, startProbe } from './body-probe.js';
import { SLIM_STRING_CHARS } from './body-probe.worker.js';

const PROSE = 'Budgets keep spend inside limits while the gateway counts every token. ';
const prompt = PROSE.repeat(Math.ceil(PROBE_MIN_BYTES / PROSE.length));

/** A body already whole, as one chunk. */
function probeBody(bytes: Buffer, shape: ApiShape) {
  const writer = startProbe(shape);
  writer?.write(bytes);
  return writer?.end();
}

afterAll(async () => {
  await closeBodyProbe();
});

describe('body probe', () => {
  it('answers a slim copy (long strings emptied, the rest as sent) and the bounds of the full prompt', async () => {
    const body = {
      model: 'gpt-4o-mini',
      max_tokens: 7,
      n: 2,
      user: 'u'.repeat(SLIM_STRING_CHARS),
      metadata: { team: 'web' },
      messages: [
        { role: 'system', content: 'short' },
        { role: 'user', content: prompt },
      ],
    };
    const before = bodiesProbed();
    const probe = await probeBody(Buffer.from(JSON.stringify(body)), 'chat');
    expect(bodiesProbed() - before).toBe(1);
    expect(probe?.slim).toEqual({
      ...body,
      messages: [
        { role: 'system', content: 'short' },
        { role: 'user', content: '' },
      ],
    });
    expect(probe?.emptied).toEqual(['messages']);
    expect(await probe!.bounds('gpt-4o-mini')).toEqual(promptTokenBounds('chat', body, 'gpt-4o-mini'));
    expect(await probe!.bounds('claude-sonnet-4-5')).toEqual(
      promptTokenBounds('chat', body, 'claude-sonnet-4-5'),
    );
    probe!.drop();
    expect(await probe!.bounds('gpt-4o-mini')).toBeUndefined();
  }, 30_000);

  it('takes a body streamed in chunks as it arrives, and forgets an abandoned one', async () => {
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] };
    const bytes = Buffer.from(JSON.stringify(body));
    const writer = startProbe('chat')!;
    // Cut anywhere (inside a key, inside the prompt): the worker joins the bytes before parsing.
    for (const at of [
      [0, 7],
      [7, 70_000],
      [70_000, bytes.length],
    ] as const)
      writer.write(bytes.subarray(...at));
    const probe = await writer.end();
    expect(probe?.slim).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '' }] });
    // Slices were copied (the test's buffer is intact), and the body comes back joined, as sent.
    expect(bytes.length).toBe(JSON.stringify(body).length);
    expect((await writer.take())?.toString('utf8')).toBe(JSON.stringify(body));
    expect(await writer.take()).toBeUndefined();
    expect(await probe!.bounds('gpt-4o-mini')).toEqual(promptTokenBounds('chat', body, 'gpt-4o-mini'));
    probe!.drop();
    const abandoned = startProbe('chat')!;
    abandoned.write(bytes.subarray(0, 100));
    abandoned.abandon();
    expect(await abandoned.end()).toBeUndefined();
  }, 30_000);

  it('moves a chunk that is the whole of its memory to the worker, and gives the body back', async () => {
    const text = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] });
    const owned = Buffer.from(text);
    expect(owned.buffer.byteLength).toBe(owned.length);
    const writer = startProbe('chat')!;
    writer.write(owned);
    // Moved, not copied: the main thread's view of it is empty now.
    expect(owned.length).toBe(0);
    const probe = await writer.end();
    expect(probe?.emptied).toEqual(['messages']);
    const back = await writer.take();
    expect(back?.toString('utf8')).toBe(text);
    // The bytes came back moved too: one buffer, the whole of its memory.
    expect(back?.buffer.byteLength).toBe(back?.length);
    writer.abandon();
  }, 30_000);

  it('names every top-level key where it emptied a string', async () => {
    const body = { model: 'm', user: prompt, messages: [{ role: 'user', content: prompt }] };
    const probe = await probeBody(Buffer.from(JSON.stringify(body)), 'chat');
    expect(probe?.emptied).toEqual(['user', 'messages']);
    probe?.drop();
  }, 30_000);

  it('answers undefined for what the ordinary parse must judge: not JSON, not an object, too deep, a key twice', async () => {
    const notJson = Buffer.from(`{"model": "m", "messages": [${JSON.stringify(prompt)}`);
    const array = Buffer.from(JSON.stringify([prompt]));
    const deep = Buffer.from(`{"a":${'['.repeat(100)}${JSON.stringify(prompt)}${']'.repeat(100)}}`);
    const twice = Buffer.from(`{"model": "m", "model": "n", "prompt": ${JSON.stringify(prompt)}}`);
    for (const bytes of [notJson, array, deep, twice]) expect(await probeBody(bytes, 'chat')).toBeUndefined();
    // The worker is still there for the next body.
    const probe = await probeBody(Buffer.from(JSON.stringify({ model: 'm', prompt })), 'completions');
    expect(probe?.emptied).toEqual(['prompt']);
    probe?.drop();
  }, 30_000);
});
