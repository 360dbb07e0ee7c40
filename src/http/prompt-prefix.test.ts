/** The prefix scan never counts more prompt than the estimate counts, at any cut of the body. */
import { describe, expect, it } from 'vitest';
import type { ApiShape } from '../providers/types.js';
import { collectPrompt } from '../tokens/estimate.js';
import { pieceFloor } from '../tokens/lower-bound.js';
import { PromptPrefixScan } from './prompt-prefix.js';

/** UTF-8 bytes of the texts the estimate counts for the whole body (what the lower bound divides). */
function estimatedBytes(shape: ApiShape, body: Record<string, unknown>): number {
  const parts = collectPrompt(shape, body, String(body.model));
  return parts.texts.reduce((sum, text) => sum + Buffer.byteLength(text, 'utf8'), 0);
}

/** Letter-space pairs of those texts (pieceFloor counts one more piece per text). */
function estimatedPairs(shape: ApiShape, body: Record<string, unknown>): number {
  const parts = collectPrompt(shape, body, String(body.model));
  return parts.texts.reduce((sum, text) => sum + Math.max(0, pieceFloor(text) - 1), 0);
}

/** Scans `bytes` cut at the given offsets; the facts after each piece. */
function scanInPieces(bytes: Buffer, cuts: number[]) {
  const scan = new PromptPrefixScan();
  const seen: Array<ReturnType<PromptPrefixScan['facts']>> = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    scan.write(bytes.subarray(from, to));
    seen.push(scan.facts());
    from = to;
  }
  return { scan, seen };
}

/** A seeded linear congruential generator: the cuts are the same on every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const TEXT = 'Budgets keep spend inside limits. Caf\u00e9 \u{1f600} "quoted" \\ back\nslash\ttab \u0001 ';

const bodies: Array<[string, ApiShape, Record<string, unknown>]> = [
  [
    'chat: strings and text parts, an image part with a stray text, a tool call',
    'chat',
    {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: TEXT.repeat(3) },
        {
          role: 'user',
          content: [
            { type: 'text', text: TEXT.repeat(5) },
            { text: TEXT, type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(900)}` } },
            { text: TEXT.repeat(2), type: 'text' },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '{}' } }],
        },
      ],
      max_tokens: 5,
    },
  ],
  [
    'messages: system blocks, a document, text blocks after the model',
    'messages',
    {
      system: [{ type: 'text', text: TEXT }],
      messages: [
        { role: 'user', content: TEXT.repeat(4) },
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: TEXT.repeat(3) } },
            { type: 'text', text: TEXT.repeat(2) },
          ],
        },
      ],
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
    },
  ],
];

describe('prompt prefix scan', () => {
  for (const [name, shape, body] of bodies) {
    it(`${name}: at every cut, at most what the estimate counts`, () => {
      const bytes = Buffer.from(JSON.stringify(body));
      const ceiling = estimatedBytes(shape, body);
      const pairs = estimatedPairs(shape, body);
      const random = seededRandom(name.length);
      for (let round = 0; round < 50; round++) {
        const cuts = Array.from({ length: 1 + Math.floor(random() * 12) }, () =>
          Math.floor(random() * bytes.length),
        ).sort((a, b) => a - b);
        const { scan, seen } = scanInPieces(bytes, cuts);
        expect(scan.failed).toBe(false);
        for (const facts of seen) {
          expect(facts.promptBytes).toBeLessThanOrEqual(ceiling);
          expect(facts.promptPieces).toBeLessThanOrEqual(pairs);
        }
        // Growing as more arrives; the whole body gives the same facts however it was cut.
        const counts = seen.map((f) => f.promptBytes);
        expect(counts).toEqual([...counts].sort((a, b) => a - b));
        expect(seen.at(-1)).toEqual(scanInPieces(bytes, []).seen[0]);
      }
      expect(scanInPieces(bytes, []).seen[0]?.model).toBe(body.model);
      // Uncut, the pairs of what it counted are seen (the scan counts some texts: a share of
      // the bytes), all but those next to an escape.
      const whole = scanInPieces(bytes, []).seen[0]!;
      expect(whole.promptPieces).toBeGreaterThan(pairs * (whole.promptBytes / ceiling) * 0.8);
    });
  }

  it('counts a message content string as it streams, a text part once it closes as a text part', () => {
    const content = 'x'.repeat(1000);
    const bytes = Buffer.from(
      JSON.stringify({
        model: 'gpt-4o',
        messages: [
          { role: 'user', content },
          { role: 'user', content: [{ text: 'y'.repeat(300), type: 'text' }] },
        ],
      }),
    );
    const inString = bytes.indexOf('xxxx') + 400;
    const afterText = bytes.indexOf('yyyy') + 300;
    const { seen } = scanInPieces(bytes, [inString, afterText]);
    expect(seen[0]).toEqual({ model: 'gpt-4o', promptBytes: 400, promptPieces: 0 });
    // The part's text is in but its type is not: not counted yet.
    expect(seen[1]?.promptBytes).toBe(1000);
    expect(seen[2]?.promptBytes).toBe(1300);
  });

  it('counts an escape as one byte and knows the model only once its string closes', () => {
    const body = { messages: [{ role: 'user', content: 'a\\b\n\u00e9\u{1f600}' }], model: 'gpt-4o' };
    const bytes = Buffer.from(JSON.stringify(body));
    const { seen } = scanInPieces(bytes, [bytes.indexOf('gpt-4o') + 3]);
    expect(seen[0]?.model).toBeUndefined();
    // a, an escaped backslash (1), b, an escaped newline (1), é 2 bytes, 😀 4 bytes.
    expect(seen[1]).toEqual({ model: 'gpt-4o', promptBytes: 4 + 2 + 4, promptPieces: 0 });
    // A \u escape (from JSON.stringify of a control character) is one byte too.
    const control = Buffer.from(JSON.stringify({ model: 'm', messages: [{ content: '\u0001ab' }] }));
    expect(scanInPieces(control, [control.indexOf('u0001') + 2]).seen[1]?.promptBytes).toBe(3);
  });

  it('counts letter-space pairs of counted texts only, never one an escape makes, at any cut', () => {
    // Raw JSON: "\n " is a newline and a space (the "n" is no letter), "\u0041 " an A and a space
    // (a real pair, not counted: the bound may miss some), "\\t " a backslash, a "t" and a space.
    const json =
      '{"model":"gpt-4o","user":"not a prompt at all","messages":[' +
      '{"role":"user","content":"one two\\n x\\u0041 y\\\\t three. 4 Five"},' +
      '{"role":"user","content":[{"text":"six seven","type":"text"},{"type":"image_url","text":"no no no"}]}]}';
    const bytes = Buffer.from(json);
    const body = JSON.parse(json) as Record<string, unknown>;
    // "one two", "t three", "six seven"; in the estimate's texts one more: "A y".
    expect(estimatedPairs('chat', body)).toBe(4);
    expect(scanInPieces(bytes, []).seen[0]?.promptPieces).toBe(3);
    // Cut anywhere, once or twice, the whole body gives the same count, never more on the way.
    for (let cut = 1; cut < bytes.length; cut++) {
      const { seen } = scanInPieces(bytes, [cut, Math.min(bytes.length, cut + 7)]);
      expect(seen.at(-1)?.promptPieces, `cut at ${cut}`).toBe(3);
    }
    // The part's pair counts once the part closes as a text part.
    const { seen } = scanInPieces(bytes, [bytes.indexOf('two') + 3, bytes.indexOf('seven') + 5]);
    expect(seen.map((f) => f.promptPieces)).toEqual([1, 2, 3]);
  });

  it('gives up on what is not a JSON object, or nests too deep', () => {
    for (const text of ['[{"model":"m"}]', '"text"', '{"model":"m"} {}', '{"model" "m"}']) {
      const scan = new PromptPrefixScan();
      scan.write(Buffer.from(text));
      expect(scan.failed, text).toBe(true);
    }
    const deep = new PromptPrefixScan();
    deep.write(Buffer.from(`{"a":${'['.repeat(100)}`));
    expect(deep.failed).toBe(true);
  });
});
