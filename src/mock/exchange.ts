/**
 * One request/response pair: writing JSON or SSE with backpressure, noticing a client that went
 * away, and keeping the ServedRecord up to date as bytes go out.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MockError, WireFormat } from './errors.js';
import { AnswerIds } from './ids.js';
import type { RequestPlan } from './plan.js';
import type { TextChunk } from './text.js';
import type { ServedRecord } from './types.js';

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
};

/** Malformed SSE for `x-mock-fail: garbage-sse`: non-JSON data, a truncated object, a bare line. */
const GARBAGE =
  'data: {"id":"chatcmpl-garbage","choices":[{"delta":{"content":"oops"\n\n' +
  'data: this is not json\n\n' +
  'event: \ndata\n\n' +
  'garbage line without a field\n\n' +
  'data: [DONE\n\n';

const BREAK_GRACE_MS = 20;

export class Exchange {
  /** The client went away, or the mock broke the connection on purpose. */
  closed = false;
  private brokeOnPurpose = false;
  private wake: (() => void) | null = null;
  /** Ids and `created` of this answer (deterministic with x-mock-seed). */
  readonly ids: AnswerIds;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly record: ServedRecord,
    readonly plan: RequestPlan,
    readonly format: WireFormat,
    /** Responses this mock stored (`store` not false), for GET /v1/responses/{id}; one per server. */
    readonly stored: StoredResponses = new StoredResponses(),
  ) {
    this.ids = new AnswerIds(plan.seed);
    res.on('close', () => {
      this.closed = true;
      if (!res.writableFinished && !this.brokeOnPurpose) record.clientClosedAt = Date.now();
      const wake = this.wake;
      this.wake = null;
      wake?.();
    });
  }

  /** Waits `ms` (or until the client goes away). */
  wait(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private headers(extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { 'x-request-id': this.record.requestId };
    if (this.format === 'anthropic') h['request-id'] = this.record.requestId;
    return extra ? Object.assign(h, extra) : h;
  }

  sendJson(status: number, body: unknown, extraHeaders?: Record<string, string>): void {
    if (this.closed) return;
    const payload = JSON.stringify(body);
    this.record.status = status;
    this.res.writeHead(status, {
      ...this.headers(extraHeaders),
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
    });
    this.res.end(payload, () => {
      this.record.completed = true;
    });
  }

  sendError(error: MockError): void {
    this.sendJson(error.status, error.body, error.headers);
  }

  startSse(): void {
    this.record.status = 200;
    this.res.writeHead(200, this.headers(SSE_HEADERS));
  }

  /**
   * Writes one SSE event; `tokens` generated tokens go out with it. Resolves false when the
   * connection is gone (the caller stops). Waits for 'drain' when the socket buffer is full.
   */
  write(data: string, tokens = 0): Promise<boolean> | boolean {
    if (this.closed) return false;
    const ok = this.res.write(data);
    this.record.outputTokensSent += tokens;
    if (ok) return true;
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve(!this.closed);
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  end(): void {
    if (this.closed) return;
    this.res.end(() => {
      this.record.completed = true;
    });
  }

  /**
   * Breaks the connection mid-response (`broken-stream`): no usage, no terminator. What was
   * written is flushed first and given a moment to be read, so the client sees the headers and
   * chunks before the break (as with a provider failing mid-stream), not a failed request.
   */
  async breakConnection(): Promise<void> {
    this.brokeOnPurpose = true;
    await new Promise<void>((resolve) => this.res.write('', () => resolve()));
    await this.wait(BREAK_GRACE_MS);
    this.res.destroy();
    this.req.socket.destroy();
  }

  /**
   * Streams the content chunks, each rendered by `render` (`copies` choices per chunk), honouring the chunk delay and the
   * `broken-stream` / `garbage-sse` failures. Returns true when every chunk went out and the caller
   * should finish the stream normally.
   */
  async streamContent(
    chunks: readonly TextChunk[],
    render: (chunk: TextChunk, index: number) => string,
    copies = 1,
  ): Promise<boolean> {
    const { chunkDelayMs, fail } = this.plan;
    for (let k = 0; k < chunks.length; k++) {
      if (fail.brokenAfterChunks !== undefined && k >= fail.brokenAfterChunks) break;
      if (fail.garbage && k >= 2) break;
      if (chunkDelayMs > 0 && k > 0) await this.wait(chunkDelayMs);
      const chunk = chunks[k]!;
      const written = this.write(render(chunk, k), chunk.tokens * copies);
      if (!(written === true || (await written))) return false;
    }
    if (this.closed) return false;
    if (fail.brokenAfterChunks !== undefined) {
      await this.breakConnection();
      return false;
    }
    if (fail.garbage) {
      this.res.write(GARBAGE);
      this.end();
      return false;
    }
    return true;
  }
}

export type Json = Record<string, unknown>;

/** The mock's stored responses by id, bounded (oldest first out) so a long benchmark stays small. */
export class StoredResponses {
  private readonly byId = new Map<string, Json>();

  constructor(private readonly capacity = 10_000) {}

  put(id: string, response: Json): void {
    this.byId.delete(id);
    this.byId.set(id, response);
    if (this.byId.size > this.capacity) {
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
  }

  get(id: string): Json | undefined {
    return this.byId.get(id);
  }
}

/** A route's handler; the body is a parsed JSON object (or {} for GET). */
export type Handler = (ex: Exchange, body: Json) => void | Promise<void>;

/** A non-negative integer field of the body, or undefined. */
export function intField(body: Json, name: string): number | undefined {
  const v = body[name];
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}
