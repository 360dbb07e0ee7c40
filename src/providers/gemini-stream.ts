/**
 * Gemini streams (`:streamGenerateContent?alt=sse`): every event is `data: {GenerateContentResponse}`
 * with the candidates' new parts and a `usageMetadata` whose counts are the totals so far; the last
 * one counts. There is no terminator event and nothing the gateway asks for, so nothing to strip.
 *
 * Besides the tap, what metering (issue 17) uses: endAtCap / endWithError (end a stream as Google
 * ends one), generatedUtf8Bytes, and an assembler that turns a stream into the plain
 * generateContent answer (a plain request the gateway streams upstream to meter it, relay-assembled.ts).
 */

import { countTokens, encodingForModel } from '../tokens/encoding.js';
import type { Usage } from '../usage.js';
import { isObject, member } from './common.js';
import { geminiUsage, usageMetadataOf } from './gemini-usage.js';
import { parseSseFields, type SseFields, SseSplitter, TextPieces, tryParseJson } from './sse.js';
import { SseTap } from './tap.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Gemini's SSE framing: `data: <json>` and a CRLF blank line, as generativelanguage.googleapis.com sends. */
export function geminiSseEvent(json: unknown): string {
  return `data: ${JSON.stringify(json)}\r\n\r\n`;
}

/** Generated text of one streamed response: every part's text (thoughts too) and function calls' JSON. */
function collectText(response: unknown, out: string[]): void {
  const candidates = member(response, 'candidates');
  if (!Array.isArray(candidates)) return;
  for (const candidate of candidates) {
    const parts = member(member(candidate, 'content'), 'parts');
    if (!Array.isArray(parts)) continue;
    for (const part of parts) {
      if (!isObject(part)) continue;
      if (typeof part.text === 'string' && part.text.length > 0) out.push(part.text);
      else if (isObject(part.functionCall)) out.push(JSON.stringify(part.functionCall));
      else if (isObject(part.executableCode)) out.push(JSON.stringify(part.executableCode));
    }
  }
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

export interface StreamError {
  message: string;
  type: string;
  code?: string | number;
}

/** Google's error object, as the API sends it in place of a response (status names google.rpc.Code). */
export function googleStreamError(error: StreamError): Uint8Array {
  // Google's error chunks carry the HTTP status as `code`; ours names it as a numeric string.
  const numeric = Number(error.code);
  const status = Number.isInteger(numeric) && numeric >= 400 && numeric <= 599 ? numeric : 500;
  return encoder.encode(
    geminiSseEvent({ error: { code: status, message: error.message, status: error.type.toUpperCase() } }),
  );
}

/** The final chunk Google sends when a candidate reaches maxOutputTokens: no new text, MAX_TOKENS. */
export function maxTokensChunk(
  usage: Usage,
  candidateIndexes: readonly number[],
  modelVersion: string | undefined,
  responseId: string | undefined,
): Record<string, unknown> {
  const chunk: Record<string, unknown> = {
    candidates: (candidateIndexes.length > 0 ? candidateIndexes : [0]).map((index) => ({
      content: { parts: [{ text: '' }], role: 'model' },
      finishReason: 'MAX_TOKENS',
      index,
    })),
    usageMetadata: usageMetadataOf(usage),
  };
  if (modelVersion !== undefined) chunk.modelVersion = modelVersion;
  if (responseId !== undefined) chunk.responseId = responseId;
  return chunk;
}

/** What every event says beyond the text: candidate indexes seen, model version, response id. */
class ResponseFacts {
  readonly indexes = new Set<number>();
  modelVersion: string | undefined;
  responseId: string | undefined;

  read(response: unknown): void {
    const version = member(response, 'modelVersion');
    if (typeof version === 'string') this.modelVersion = version;
    const id = member(response, 'responseId');
    if (typeof id === 'string') this.responseId = id;
    const candidates = member(response, 'candidates');
    if (!Array.isArray(candidates)) return;
    for (const candidate of candidates) {
      const index = member(candidate, 'index');
      this.indexes.add(typeof index === 'number' ? index : 0);
    }
  }
}

export class GeminiStreamTap extends SseTap {
  private readonly facts = new ResponseFacts();

  /** wholeEvents: hold a partial event back, so an ending never follows half of one (types.ts). */
  constructor(wholeEvents = false) {
    super(wholeEvents);
  }

  protected read(fields: SseFields): void {
    const data = fields.data;
    if (data === undefined || data.length === 0) return;
    const response = tryParseJson(data);
    if (!isObject(response)) return;
    this.facts.read(response);
    collectText(response, this.text.list);
    const usage = geminiUsage(response.usageMetadata);
    if (usage !== undefined) this.report(usage);
  }

  /** Ends the client's stream as Google ends one at maxOutputTokens (usage is always in Gemini chunks). */
  protected capEnding(usage: Usage, _includeUsage: boolean): string {
    const chunk = maxTokensChunk(
      usage,
      [...this.facts.indexes],
      this.facts.modelVersion,
      this.facts.responseId,
    );
    return geminiSseEvent(chunk);
  }

  protected errorEnding(error: StreamError): string {
    return new TextDecoder().decode(googleStreamError(error));
  }
}

interface AssembledCandidate {
  index: number;
  parts: Record<string, unknown>[];
  finishReason?: unknown;
  extra: Record<string, unknown>;
}

/**
 * Builds the plain generateContent answer from a stream of it: each candidate's parts in order,
 * consecutive text parts of one kind (thought or not) joined, the last finishReason and the last
 * usageMetadata (the totals).
 */
export class GeminiAssembler {
  private readonly splitter = new SseSplitter();
  private readonly text = new TextPieces();
  private readonly facts = new ResponseFacts();
  private readonly candidates = new Map<number, AssembledCandidate>();
  private metadata: unknown;
  private promptFeedback: unknown;
  private readonly onEvent = (event: Uint8Array): void => {
    const data = parseSseFields(decoder.decode(event)).data;
    if (data === undefined || data.length === 0) return;
    const response = tryParseJson(data);
    if (isObject(response)) this.read(response);
  };

  push(bytes: Uint8Array): void {
    this.splitter.push(bytes, this.onEvent);
  }

  private read(response: Record<string, unknown>): void {
    this.facts.read(response);
    collectText(response, this.text.list);
    if (isObject(response.usageMetadata)) this.metadata = response.usageMetadata;
    if (response.promptFeedback !== undefined) this.promptFeedback = response.promptFeedback;
    const candidates = Array.isArray(response.candidates) ? response.candidates : [];
    for (const candidate of candidates) {
      if (!isObject(candidate)) continue;
      const index = typeof candidate.index === 'number' ? candidate.index : 0;
      let into = this.candidates.get(index);
      if (!into) {
        into = { index, parts: [], extra: {} };
        this.candidates.set(index, into);
      }
      for (const [key, value] of Object.entries(candidate)) {
        if (key === 'content' || key === 'index') continue;
        if (key === 'finishReason') into.finishReason = value;
        else into.extra[key] = value;
      }
      const parts = member(candidate.content, 'parts');
      if (Array.isArray(parts)) for (const part of parts) if (isObject(part)) appendPart(into.parts, part);
    }
  }

  usage(): Usage | undefined {
    return geminiUsage(this.metadata);
  }

  generatedText(): string {
    return this.text.text();
  }

  generatedUtf8Bytes(): number {
    return utf8Bytes(this.generatedText());
  }

  /** Gemini repeats the running usage in every chunk: the last one seen is final once the stream ends. */
  usageComplete(): boolean {
    return this.metadata !== undefined;
  }

  countedOutputTokens(model: string): number {
    const text = this.generatedText();
    return text.length === 0 ? 0 : countTokens(text, encodingForModel(model));
  }

  /** Errors arrive as the HTTP answer, not mid-stream, on the paths this assembler is used for. */
  failure(): unknown {
    return undefined;
  }

  /**
   * The generateContent JSON the provider would have answered; undefined until the stream finished
   * (every candidate has its finishReason, or the prompt was blocked): the running usageMetadata of
   * an unfinished stream must not pass for a whole answer (relay-assembled.ts cuts it at the cap).
   */
  result(): Record<string, unknown> | undefined {
    return this.finished() ? this.build(undefined) : undefined;
  }

  private finished(): boolean {
    if (this.candidates.size === 0) return member(this.promptFeedback, 'blockReason') !== undefined;
    for (const candidate of this.candidates.values()) if (candidate.finishReason === undefined) return false;
    return true;
  }

  /** The answer as Google gives one cut at maxOutputTokens, billed at `usage`. */
  resultAtCap(usage: Usage): Record<string, unknown> {
    return this.build(usage);
  }

  private build(atCap: Usage | undefined): Record<string, unknown> {
    const list = [...this.candidates.values()].sort((a, b) => a.index - b.index);
    if (list.length === 0 && atCap !== undefined) list.push({ index: 0, parts: [], extra: {} });
    const out: Record<string, unknown> = {
      candidates: list.map((c) => {
        // Google's order: content, finishReason, the rest, index (so the bytes match too).
        const candidate: Record<string, unknown> = {
          content: { parts: c.parts.length > 0 ? c.parts : [{ text: '' }], role: 'model' },
        };
        const finish = atCap !== undefined ? 'MAX_TOKENS' : c.finishReason;
        if (finish !== undefined) candidate.finishReason = finish;
        Object.assign(candidate, c.extra);
        candidate.index = c.index;
        return candidate;
      }),
    };
    if (this.promptFeedback !== undefined) out.promptFeedback = this.promptFeedback;
    const metadata = atCap !== undefined ? usageMetadataOf(atCap) : this.metadata;
    if (metadata !== undefined) out.usageMetadata = metadata;
    if (this.facts.modelVersion !== undefined) out.modelVersion = this.facts.modelVersion;
    if (this.facts.responseId !== undefined) out.responseId = this.facts.responseId;
    return out;
  }
}

function appendPart(parts: Record<string, unknown>[], part: Record<string, unknown>): void {
  const last = parts[parts.length - 1];
  const joinable =
    last !== undefined &&
    typeof last.text === 'string' &&
    typeof part.text === 'string' &&
    Object.keys(part).every((key) => key === 'text' || key === 'thought') &&
    (last.thought === true) === (part.thought === true);
  if (joinable) parts[parts.length - 1] = { ...last, text: (last.text as string) + (part.text as string) };
  else parts.push({ ...part });
}
