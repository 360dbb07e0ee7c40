/**
 * The body probe's worker (body-probe.ts): parses a large request body off the main thread and
 * keeps it, answering what the admission's pre-check needs without the main thread holding the
 * parsed prompt: a slim copy of the body (every long string emptied) for its small fields, and the
 * prompt's token bounds for a model. The main thread drops the body once it has decided.
 */
import { parentPort } from 'node:worker_threads';
import { findDuplicateKey } from '../providers/json-keys.js';
import type { ApiShape, RequestBody } from '../providers/types.js';
import { type PromptBounds, promptTokenBounds } from '../tokens/lower-bound.js';
import { MAX_JSON_DEPTH } from './body.js';
import { type PrefixFacts, PromptPrefixScan } from './prompt-prefix.js';

/** A prefix's facts are told when its prompt bytes first reach this, then at each doubling. */
export const EARLY_FIRST_BYTES = 128 * 1024;

/** Strings longer than this are emptied in the slim copy: prompts, images, files. */
export const SLIM_STRING_CHARS = 1024;

export type ProbeMessage =
  /** A body streamed as it arrives: begin, its chunks, then end (answered as a parse). */
  | { type: 'begin'; id: number; shape: ApiShape }
  | { type: 'chunk'; id: number; bytes: Uint8Array }
  | { type: 'end'; id: number }
  /** What the whole arrived body's scan proves, asked before `end` (answered with `facts`). */
  | { type: 'facts'; id: number; body: number }
  | { type: 'bounds'; id: number; body: number; model: string }
  /** The ended body's bytes, joined, moved back to the main thread (answered with `bytes`). */
  | { type: 'take'; id: number; body: number }
  /** Answered once every message before it was handled (the reader's flow control). */
  | { type: 'sync'; id: number }
  | { type: 'drop'; id: number; body: number };

export type ProbeAnswer =
  /** `emptied`: the body's top-level keys under which a string was emptied. */
  | { id: number; slim: RequestBody; emptied: string[] }
  | { id: number; bounds: PromptBounds | null }
  | { id: number; refused: true }
  | { id: number; synced: true }
  | { id: number; facts: PrefixFacts | null }
  | { id: number; bytes: Uint8Array }
  | { id: number; gone: true }
  /** Unasked, while a body arrives: what its prefix proves (prompt-prefix.ts). */
  | { id: number; early: PrefixFacts };

const kept = new Map<number, { body: RequestBody; shape: ApiShape }>();
/** Ended bodies' bytes, until taken back or dropped (the main thread has no copy). */
const joined = new Map<number, Buffer>();
interface Arriving {
  shape: ApiShape;
  chunks: Buffer[];
  /** The prefix scan, for shapes whose prompt is `messages`; dropped once it fails. */
  scan?: PromptPrefixScan;
  nextEarlyBytes: number;
}
const arriving = new Map<number, Arriving>();

/** Scans the chunk; the prefix's facts when its prompt bytes passed the next mark. */
function scanned(id: number, body: Arriving, bytes: Buffer): ProbeAnswer | undefined {
  const scan = body.scan;
  if (!scan) return undefined;
  scan.write(bytes);
  if (scan.failed) {
    body.scan = undefined;
    return undefined;
  }
  const facts = scan.facts();
  if (facts.model === undefined || facts.promptBytes < body.nextEarlyBytes) return undefined;
  while (body.nextEarlyBytes <= facts.promptBytes) body.nextEarlyBytes *= 2;
  return { id, early: facts };
}

/** The value with its long strings emptied (`emptied.hit` set when one was); throws past MAX_JSON_DEPTH. */
function slimOf(value: unknown, depth: number, emptied: { hit: boolean }): unknown {
  if (typeof value === 'string') {
    if (value.length <= SLIM_STRING_CHARS) return value;
    emptied.hit = true;
    return '';
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_JSON_DEPTH) throw new RangeError('too deep');
  if (Array.isArray(value)) return value.map((item) => slimOf(item, depth + 1, emptied));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = slimOf(item, depth + 1, emptied);
  return out;
}

const view = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function answer(message: ProbeMessage): ProbeAnswer | undefined {
  switch (message.type) {
    case 'begin': {
      const scan =
        message.shape === 'chat' || message.shape === 'messages' ? new PromptPrefixScan() : undefined;
      arriving.set(message.id, {
        shape: message.shape,
        chunks: [],
        nextEarlyBytes: EARLY_FIRST_BYTES,
        ...(scan ? { scan } : {}),
      });
      return undefined;
    }
    case 'chunk': {
      const body = arriving.get(message.id);
      if (!body) return undefined;
      const bytes = view(message.bytes);
      body.chunks.push(bytes);
      return scanned(message.id, body, bytes);
    }
    case 'end': {
      const body = arriving.get(message.id);
      arriving.delete(message.id);
      if (!body) return { id: message.id, refused: true };
      const bytes = Buffer.concat(body.chunks);
      joined.set(message.id, bytes);
      return parsed(message.id, bytes, body.shape);
    }
    case 'facts': {
      // Every chunk came before this message: the scan has read the whole body.
      const scan = arriving.get(message.body)?.scan;
      const facts = scan && !scan.failed ? scan.facts() : undefined;
      return { id: message.id, facts: facts?.model === undefined ? null : facts };
    }
    case 'bounds': {
      const entry = kept.get(message.body);
      if (!entry) return { id: message.id, bounds: null };
      return { id: message.id, bounds: promptTokenBounds(entry.shape, entry.body, message.model) ?? null };
    }
    case 'take': {
      const bytes = joined.get(message.body);
      joined.delete(message.body);
      if (!bytes) return { id: message.id, gone: true };
      // Moved, not copied, when the joined bytes are the whole of their memory (Buffer.concat's
      // result is, unless small enough to come from the pool).
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      const out =
        whole && bytes.buffer instanceof ArrayBuffer ? new Uint8Array(bytes.buffer) : new Uint8Array(bytes);
      try {
        parentPort?.postMessage({ id: message.id, bytes: out } satisfies ProbeAnswer, [
          out.buffer as ArrayBuffer,
        ]);
      } catch {
        parentPort?.postMessage({ id: message.id, bytes: new Uint8Array(out) } satisfies ProbeAnswer);
      }
      return undefined;
    }
    case 'drop':
      kept.delete(message.body);
      arriving.delete(message.body);
      joined.delete(message.body);
      return undefined;
    case 'sync':
      return { id: message.id, synced: true };
  }
}

/** Parses and keeps the body; refused (the ordinary path answers) when it is not a JSON object. */
function parsed(id: number, bytes: Buffer, shape: ApiShape): ProbeAnswer {
  const body: unknown = JSON.parse(bytes.toString('utf8'));
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { id, refused: true };
  // A key twice is the ordinary parse's 400 (http/body.ts parseJsonObject).
  if (findDuplicateKey(bytes) !== null) return { id, refused: true };
  const slim: RequestBody = {};
  const emptied: string[] = [];
  for (const [key, item] of Object.entries(body)) {
    const hit = { hit: false };
    slim[key] = slimOf(item, 1, hit);
    if (hit.hit) emptied.push(key);
  }
  kept.set(id, { body: body as RequestBody, shape });
  return { id, slim, emptied };
}

parentPort?.on('message', (message: ProbeMessage) => {
  let reply: ProbeAnswer | undefined;
  try {
    reply = answer(message);
  } catch {
    // Not JSON, too deep, an odd shape: the main thread's own parse answers the client.
    kept.delete(message.id);
    reply = { id: message.id, refused: true };
  }
  if (reply) parentPort?.postMessage(reply);
});
