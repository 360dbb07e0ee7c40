/**
 * The skeleton every SSE tap shares: split the bytes into events, let the format read each event
 * (usage, generated text), and, when the format rewrites events, forward the rewritten bytes.
 *
 * Pass-through taps (no rewriting) forward each chunk as it came, the same instance, holding nothing
 * back; they only keep a copy of the unfinished event's bytes to read it once complete.
 * Rewriting taps hold back only the unfinished event; a chunk is returned unchanged (same instance)
 * when nothing in it was rewritten and nothing was or is held back.
 *
 * Usage: the last report counts, and it is final only when no generated text came after it (text
 * and usage in the same event count as covered by that report, as with per-chunk usage stats).
 *
 * Endings (endAtCap / endWithError) are rendered by the format from what it tracked while reading;
 * they follow whole events only when the tap holds partial events back (`wholeEvents`).
 */
import { countTokens, encodingForModel } from '../tokens/encoding.js';
import type { Usage } from '../usage.js';
import { parseSseFields, type SseFields, SseSplitter, TextPieces } from './sse.js';
import type { StreamError, StreamTap } from './types.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export abstract class SseTap implements StreamTap {
  private readonly splitter = new SseSplitter();
  protected readonly text = new TextPieces();
  private current: Usage | undefined;
  private complete = false;
  private reports = 0;
  protected id: string | undefined;
  private counted: { length: number; model: string; tokens: number } | undefined;
  private readonly out: Uint8Array[] = [];
  private changed = false;
  private utf8Bytes = 0;
  private ended = false;
  private readonly inspect = (event: Uint8Array): void => {
    this.readEvent(parseSseFields(decoder.decode(event)));
  };
  private readonly rewriteInto = (event: Uint8Array): void => {
    const fields = parseSseFields(decoder.decode(event));
    this.readEvent(fields);
    if (this.rewrite(event, fields, this.out)) this.changed = true;
  };

  /** `rewriting`: events pass through rewrite() and an unfinished event is held back until complete. */
  constructor(private readonly rewriting: boolean) {}

  /** The ending of a stream cut at the output cap (see StreamTap.endAtCap), as SSE text. */
  protected abstract capEnding(usage: Usage, includeUsage: boolean): string;

  /** The ending of a failed stream (see StreamTap.endWithError), as SSE text. */
  protected abstract errorEnding(error: StreamError): string;

  /** Reads one complete event (text into `this.text.list`, usage via report()). Must not throw on garbage. */
  protected abstract read(fields: SseFields): void;

  /** A usage report; `final` false for one the provider says is provisional (Anthropic message_start). */
  protected report(usage: Usage, final = true): void {
    this.current = usage;
    this.complete = final;
    this.reports++;
  }

  /** The last usage reported (for formats that merge partial reports). */
  protected lastReport(): Usage | undefined {
    return this.current;
  }

  private readEvent(fields: SseFields): void {
    const pieces = this.text.list.length;
    const reports = this.reports;
    this.read(fields);
    const list = this.text.list;
    for (let i = pieces; i < list.length; i++) this.utf8Bytes += utf8Length(list[i] ?? '');
    // Text after the last report: that report does not cover the whole output.
    if (this.text.list.length > pieces && this.reports === reports) this.complete = false;
  }

  /**
   * Rewriting taps: appends to `out` the bytes to forward for this event (views of it; nothing to drop
   * it) and answers whether they differ from the event.
   */
  protected rewrite(event: Uint8Array, _fields: SseFields, out: Uint8Array[]): boolean {
    out.push(event);
    return false;
  }

  push(chunk: Uint8Array): Uint8Array | null {
    if (chunk.length === 0) return null;
    if (!this.rewriting) {
      this.splitter.push(chunk, this.inspect);
      return chunk;
    }
    this.changed = this.splitter.holding;
    this.out.length = 0;
    this.splitter.push(chunk, this.rewriteInto);
    if (!this.changed && !this.splitter.holding) return chunk;
    return this.takeOut();
  }

  flush(): Uint8Array | null {
    const rest = this.splitter.flush();
    if (rest === null) return null;
    if (!this.rewriting) {
      // Already forwarded; read it in case it carried usage without its final blank line.
      this.inspect(rest);
      return null;
    }
    this.out.length = 0;
    this.rewriteInto(rest);
    return this.takeOut();
  }

  /** Joins the bytes to forward into one array (one allocation per chunk), releasing the views. */
  private takeOut(): Uint8Array | null {
    const joined = concat(this.out);
    this.out.length = 0;
    return joined;
  }

  usage(): Usage | undefined {
    return this.current === undefined ? undefined : { ...this.current };
  }

  usageComplete(): boolean {
    return this.complete;
  }

  generatedText(): string {
    return this.text.text();
  }

  countedOutputTokens(model: string): number {
    const text = this.text.text();
    const known = this.counted;
    if (known !== undefined && known.length === text.length && known.model === model) return known.tokens;
    const tokens = text.length === 0 ? 0 : countTokens(text, encodingForModel(model));
    this.counted = { length: text.length, model, tokens };
    return tokens;
  }

  responseId(): string | undefined {
    return this.id;
  }

  generatedUtf8Bytes(): number {
    return this.utf8Bytes;
  }

  endAtCap(usage: Usage, includeUsage: boolean): Uint8Array {
    return this.end(() => this.capEnding(usage, includeUsage));
  }

  endWithError(error: StreamError): Uint8Array {
    return this.end(() => this.errorEnding(error));
  }

  /** Drops an unfinished event (held back, or in pass-through mode already forwarded: see wholeEvents). */
  private end(render: () => string): Uint8Array {
    if (this.ended) return new Uint8Array(0);
    this.ended = true;
    this.splitter.flush();
    return encoder.encode(render());
  }
}

/** UTF-8 length of a string (a JS loop: faster than Buffer.byteLength for the short pieces of a stream). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      // A surrogate pair: 4 bytes for 2 UTF-16 units.
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2;
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}

function concat(parts: Uint8Array[]): Uint8Array | null {
  if (parts.length === 0) return null;
  if (parts.length === 1) return parts[0] ?? null;
  let length = 0;
  for (const part of parts) length += part.length;
  if (length === 0) return null;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
