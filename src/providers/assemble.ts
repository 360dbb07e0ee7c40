/**
 * The skeleton of the assemblers that build a provider's plain (non-streaming) answer from its
 * stream: usage, generated text and its UTF-8 bytes come from a pass-through StreamTap of the same
 * API (the same meter and settle work on both paths); the format parses each event into the body.
 */
import type { Usage } from '../usage.js';
import { parseSseFields, type SseFields, SseSplitter } from './sse.js';
import type { StreamAssembler, StreamTap } from './types.js';

const decoder = new TextDecoder();

export abstract class SseAssembler implements StreamAssembler {
  private readonly splitter = new SseSplitter();
  private flushed = false;
  /** The provider's plain error body, once an error event arrived. */
  protected error: unknown;
  private readonly onEvent = (event: Uint8Array): void => {
    this.read(parseSseFields(decoder.decode(event)));
  };

  constructor(private readonly tap: StreamTap) {}

  /** Reads one complete event into the body being built. Must not throw on garbage. */
  protected abstract read(fields: SseFields): void;
  /** The body once the stream finished; undefined before. */
  protected abstract finished(): unknown;
  /** The body as the provider's cap would have cut it here. */
  protected abstract cut(usage: Usage): unknown;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.flushed) return;
    this.tap.push(chunk);
    this.splitter.push(chunk, this.onEvent);
  }

  /** A last event without its blank line still counts once the body is asked for. */
  private flush(): void {
    if (this.flushed) return;
    this.flushed = true;
    this.tap.flush();
    const rest = this.splitter.flush();
    if (rest !== null) this.onEvent(rest);
  }

  usage(): Usage | undefined {
    return this.tap.usage();
  }

  usageComplete(): boolean {
    return this.tap.usageComplete();
  }

  generatedText(): string {
    return this.tap.generatedText();
  }

  generatedUtf8Bytes(): number {
    return this.tap.generatedUtf8Bytes();
  }

  countedOutputTokens(model: string): number {
    return this.tap.countedOutputTokens(model);
  }

  result(): unknown {
    this.flush();
    return this.finished();
  }

  failure(): unknown {
    this.flush();
    return this.error;
  }

  resultAtCap(usage: Usage): unknown {
    this.flush();
    return this.cut(usage);
  }
}
