/**
 * Reading a request body: the declared length is checked before a byte is read, and the stream is
 * cut off as soon as it passes the limit, so an oversized body costs no memory.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { GatewayError } from '../errors.js';
import { duplicateKeyError } from '../providers/json-keys.js';
import type { RequestBody } from '../providers/types.js';
import { lingerOnClose } from './linger.js';
import { type HeaderSource, nodeRequest } from './request.js';

/** The body of the request in `c`, at most `maxBytes` (413 beyond). */
export async function readRequestBody(c: Context, maxBytes: number): Promise<Buffer> {
  return joinChunks(await readBodyChunks(nodeRequest(c), c.req.raw, maxBytes));
}

/**
 * The body of the request in `c` as it arrived, in pieces: joining them is left to the caller.
 * With `tap`, each piece is handed to it as it comes and none is kept here (the body probe moves a
 * large body's memory to its worker): the answer is then empty.
 */
export function readRequestChunks(
  c: Context,
  maxBytes: number,
  tap?: (chunk: Buffer) => Promise<void> | undefined,
  stop?: AbortSignal,
): Promise<Buffer[]> {
  return readBodyChunks(nodeRequest(c), c.req.raw, maxBytes, tap, stop);
}

export function joinChunks(chunks: readonly Buffer[]): Buffer {
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

export async function readBodyBytes(
  incoming: IncomingMessage | undefined,
  request: Request,
  maxBytes: number,
): Promise<Buffer> {
  return joinChunks(await readBodyChunks(incoming, request, maxBytes));
}

async function readBodyChunks(
  incoming: IncomingMessage | undefined,
  request: Request,
  maxBytes: number,
  /** Takes each chunk as it comes (nothing is kept); a promise it returns is waited for before reading on. */
  tap?: (chunk: Buffer) => Promise<void> | undefined,
  /** Aborted (its reason is thrown): the rest is discarded unread, and the answer closes the connection. */
  stop?: AbortSignal,
): Promise<Buffer[]> {
  // From the Node request when there is one: reading request.headers would build a Headers object.
  const length = incoming ? incoming.headers['content-length'] : request.headers.get('content-length');
  const declared = Number(length ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    if (incoming) lingerOnClose(incoming);
    throw tooLarge(maxBytes);
  }
  if (!incoming) {
    const buffer = Buffer.from(await request.arrayBuffer());
    if (buffer.length > maxBytes) throw tooLarge(maxBytes);
    if (!tap) return [buffer];
    await tap(buffer);
    return [];
  }
  const chunks: Buffer[] = [];
  let total = 0;
  // Not destroyed on the way out: destroying the socket would lose the 413 answer. The rest of an
  // oversized body is discarded unread, and the answer closes the connection, lingering (linger.ts).
  for await (const chunk of incoming.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      lingerOnClose(incoming);
      throw tooLarge(maxBytes);
    }
    if (!tap) chunks.push(chunk);
    else {
      const wait = tap(chunk);
      if (wait) await wait;
    }
    if (stop?.aborted) {
      lingerOnClose(incoming);
      throw stop.reason;
    }
  }
  return chunks;
}

function tooLarge(maxBytes: number): GatewayError {
  return new GatewayError(
    'payload_too_large',
    `Request body is larger than the gateway's limit of ${maxBytes} bytes.`,
    { headers: { connection: 'close' } },
  );
}

export function requireJsonContentType(request: { headers: HeaderSource }): void {
  const type = request.headers.get('content-type');
  if (!type || !/^application\/([a-z.+-]*\+)?json\b/i.test(type.trim())) {
    throw new GatewayError(
      'unsupported_media_type',
      `Expected Content-Type application/json, got ${type ? JSON.stringify(type) : 'none'}.`,
      { status: 400 },
    );
  }
}

/** Maximum nesting of arrays/objects accepted in a body; deeper JSON is rejected before any work. */
export const MAX_JSON_DEPTH = 64;

/**
 * The body as one JSON object. A key twice in one object is refused (400 naming it): JSON.parse
 * keeps the last, an upstream may keep the first, and what is checked must be what is sent.
 */
export function parseJsonObject(bytes: Buffer): RequestBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new GatewayError('invalid_json', `Request body is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new GatewayError('invalid_json', 'Request body must be a JSON object.');
  }
  if (depthExceeds(parsed, MAX_JSON_DEPTH)) {
    throw new GatewayError('invalid_request', `Request body nests deeper than ${MAX_JSON_DEPTH} levels.`);
  }
  const duplicate = duplicateKeyError(bytes);
  if (duplicate) throw duplicate;
  return parsed as RequestBody;
}

/** Bodies from this size are parsed one per turn of the event loop (parseJsonObjectInTurn). */
export const BIG_BODY_BYTES = 256 * 1024;

let bigBodiesTail: Promise<void> = Promise.resolve();
let bigBodiesParsed = 0;

/** For tests: big bodies parsed on this thread so far (routes/proxy/early-refusal.ts spares some). */
export function bigBodiesParsedHere(): number {
  return bigBodiesParsed;
}

/**
 * parseJsonObject, but a big body waits for the big bodies ahead of it and then for a turn of the
 * event loop: parsing and scanning a 4 MB body takes ~15 ms of the one thread, and sixteen of them
 * at once held a small request behind all of them (issue #13: 8 ms -> 7.5 s before the pre-check,
 * ~160 ms after it). Small bodies never wait; a request that arrives while big ones are queued is
 * parsed between two of them.
 */
export async function parseJsonObjectInTurn(bytes: Buffer): Promise<RequestBody> {
  if (bytes.length < BIG_BODY_BYTES) return parseJsonObject(bytes);
  const ahead = bigBodiesTail;
  let done!: () => void;
  bigBodiesTail = new Promise<void>((resolve) => {
    done = resolve;
  });
  try {
    await ahead;
    await new Promise<void>((resolve) => setImmediate(resolve));
    bigBodiesParsed++;
    return parseJsonObject(bytes);
  } finally {
    done();
  }
}

function depthExceeds(value: unknown, budget: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (budget === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (depthExceeds(item, budget - 1)) return true;
    return false;
  }
  for (const key in value) if (depthExceeds((value as Record<string, unknown>)[key], budget - 1)) return true;
  return false;
}
