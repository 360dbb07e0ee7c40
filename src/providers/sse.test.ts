import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collectStringMembers, parseSseFields, SseSplitter, sseEventType, stringMembersOf } from './sse.js';
import { decoder, encoder, splitAt } from './streams.test-helpers.js';

function split(input: string | Uint8Array, positions: number[] = []): string[] {
  const bytes = typeof input === 'string' ? encoder.encode(input) : input;
  const splitter = new SseSplitter();
  const events: string[] = [];
  for (const chunk of splitAt(bytes, positions)) {
    splitter.push(chunk, (event) => events.push(decoder.decode(event)));
  }
  const rest = splitter.flush();
  if (rest) events.push(`<rest>${decoder.decode(rest)}`);
  return events;
}

describe('SseSplitter', () => {
  it('splits on LF LF, CRLF CRLF and CR CR, keeping each terminator with its event', () => {
    expect(split('data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n\r\n')).toEqual([
      'data: a\n\n',
      'data: b\r\n\r\n',
      'data: c\r\r',
      'data: d\n\r\n',
    ]);
  });

  it('keeps multi-line events, comments and named events whole', () => {
    const input = ': keep-alive comment\n\nevent: message_start\ndata: {"a":1}\ndata: {"b":2}\nid: 7\n\n';
    expect(split(input)).toEqual([
      ': keep-alive comment\n\n',
      'event: message_start\ndata: {"a":1}\ndata: {"b":2}\nid: 7\n\n',
    ]);
  });

  it('returns the unfinished tail on flush', () => {
    expect(split('data: a\n\ndata: partial')).toEqual(['data: a\n\n', '<rest>data: partial']);
  });

  it('hands out zero-copy views for events inside one chunk', () => {
    const chunk = encoder.encode('data: a\n\ndata: b\n\n');
    const views: Uint8Array[] = [];
    new SseSplitter().push(chunk, (event) => views.push(event));
    expect(views.map((view) => view.buffer === chunk.buffer)).toEqual([true, true]);
  });

  it('keeps a CRLF terminator whole when split between CR and LF', () => {
    const input = 'data: a\r\n\r\ndata: b\r\n\r\n';
    for (let at = 0; at <= input.length; at++) {
      expect(split(input, [at])).toEqual(['data: a\r\n\r\n', 'data: b\r\n\r\n']);
    }
  });

  it('never tears a multi-byte UTF-8 character split across chunks', () => {
    const input = encoder.encode('data: {"t":"日本語 🎉"}\n\n');
    for (let at = 0; at <= input.length; at++) {
      expect(split(input, [at])).toEqual(['data: {"t":"日本語 🎉"}\n\n']);
    }
  });

  it('gives the same events for any split of the input (property)', () => {
    const input = encoder.encode(
      ': c\n\nevent: x\ndata: 1\r\n\r\ndata: é\rdata: 2\r\rdata: 3\n\n\n\ndata: [DONE]\n\ntail',
    );
    const whole = split(input);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: input.length }), { maxLength: 12 }), (positions) => {
        expect(split(input, positions)).toEqual(whole);
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseSseFields', () => {
  it('joins data lines with LF, reads event, ignores comments and other fields', () => {
    expect(parseSseFields(': hi\r\nevent: ping\r\ndata: a\r\ndata:b\r\nid: 1\r\n\r\n')).toEqual({
      event: 'ping',
      data: 'a\nb',
    });
    expect(parseSseFields(': only a comment\n\n')).toEqual({ event: undefined, data: undefined });
  });

  it('finds the type from the data when there is no event field', () => {
    expect(sseEventType({ event: undefined, data: '{"type":"message_delta","usage":{}}' })).toBe(
      'message_delta',
    );
    expect(sseEventType({ event: undefined, data: 'garbage' })).toBeUndefined();
  });
});

describe('collectStringMembers', () => {
  it('decodes escapes, skips non-strings and keys that only end with the name', () => {
    const out: string[] = [];
    const json = JSON.stringify({
      a: { content: 'x "y" \\ \n é 🎉' },
      b: { content: null },
      c: { reasoning_content: 'r' },
      d: [{ content: 'z' }],
      e: { content: '' },
    });
    collectStringMembers(json, stringMembersOf(['content']), out);
    expect(out).toEqual(['x "y" \\ \n é 🎉', 'z']);
  });

  it('does not match a key name appearing inside a string value', () => {
    const out: string[] = [];
    collectStringMembers(
      JSON.stringify({ arguments: '{"content":"inner"}' }),
      stringMembersOf(['content']),
      out,
    );
    expect(out).toEqual([]);
  });
});
