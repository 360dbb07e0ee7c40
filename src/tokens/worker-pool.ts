/**
 * Counts tokens off the main thread. tiktoken is synchronous WASM at ~4 MB/s, so a 400 KB prompt
 * would hold the event loop for ~100 ms and stall every other request.
 *
 * The worker is created from a CommonJS source string (`eval: true`) that requires tiktoken by
 * absolute path. Why not a worker file: under vitest/tsx the sibling would be a .ts file a plain
 * worker cannot load, and under dist/ it would be .js; the string works in both. `execArgv: []`
 * keeps loader flags (tsx, vitest) out of the worker, which needs none.
 *
 * The worker only sums encode_ordinary() over pieces the main thread split (tokenizerSegments,
 * cut a batch at a time as the queue hands batches out), so its count is the main thread's count
 * by construction.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type EncodingName, tokenizerSegmentsOf } from './encoding.js';

interface Pending {
  resolve: (tokens: number) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Ends an idle worker (see IDLE_MS); cleared while it has work. */
  idleTimer?: NodeJS.Timeout;
}

const WORKER_SOURCE = (tiktokenPath: string): string => `
'use strict';
const { parentPort } = require('node:worker_threads');
const { get_encoding } = require(${JSON.stringify(tiktokenPath)});
const encoders = new Map();
function encoder(name) {
  let enc = encoders.get(name);
  if (!enc) { enc = get_encoding(name); encoders.set(name, enc); }
  return enc;
}
parentPort.on('message', (msg) => {
  try {
    const enc = encoder(msg.encoding);
    let tokens = 0;
    for (const segment of msg.segments) if (segment.length > 0) tokens += enc.encode_ordinary(segment).length;
    parentPort.postMessage({ id: msg.id, tokens });
  } catch (error) {
    parentPort.postMessage({ id: msg.id, error: String((error && error.message) || error) });
  }
});
`;

/** One worker on a 2-core box (the main thread needs the other core); at most 2 otherwise. */
export const POOL_SIZE = Math.max(1, Math.min(2, availableParallelism() - 1));

/**
 * A worker with nothing to count for this long exits, giving back its memory: its own tiktoken
 * (~60-80 MB resident). Large prompts are the exception, so most of the time no worker runs; the
 * next one pays the cold start (~0.3 s, counted off the main thread all the same).
 */
export const IDLE_MS = 30_000;
let idleMs = IDLE_MS;

/** For tests: how long an idle worker lives. */
export function setTokenWorkerIdleMs(ms: number): void {
  idleMs = ms;
}

const slots: Slot[] = [];
let nextId = 1;
let source: string | undefined;
/**
 * Workers that die before answering anything (tiktoken missing, out of memory) would otherwise be
 * restarted for every large prompt; after a few such failures the pool stops trying and callers
 * count on the main thread.
 */
const MAX_STARTUP_FAILURES = 3;
let startupFailures = 0;
let closing = false;

function workerSource(): string {
  source ??= WORKER_SOURCE(createRequire(import.meta.url).resolve('tiktoken'));
  return source;
}

function startSlot(): Slot {
  const worker = new Worker(workerSource(), { eval: true, execArgv: [] });
  const slot: Slot = { worker, pending: new Map() };
  let answered = false;
  // Idle workers must never keep the process alive; busy ones are ref()ed while a count is pending.
  worker.unref();
  worker.on('message', (msg: { id: number; tokens?: number; error?: string }) => {
    const waiter = slot.pending.get(msg.id);
    if (!waiter) return;
    answered = true;
    startupFailures = 0;
    slot.pending.delete(msg.id);
    if (slot.pending.size === 0) {
      worker.unref();
      slot.idleTimer = setTimeout(() => retire(slot), idleMs);
      slot.idleTimer.unref();
    }
    if (typeof msg.tokens === 'number') waiter.resolve(msg.tokens);
    else waiter.reject(new Error(msg.error ?? 'token worker failed'));
  });
  const fail = (error: Error) => {
    const index = slots.indexOf(slot);
    if (index < 0 && slot.pending.size === 0) return;
    if (index >= 0) slots.splice(index, 1);
    if (!answered && !closing) startupFailures += 1;
    for (const waiter of slot.pending.values()) waiter.reject(error);
    slot.pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`token worker exited with code ${code}`)));
  slots.push(slot);
  return slot;
}

/** Ends an idle worker; the exit handler takes it out of the pool. */
function retire(slot: Slot): void {
  if (slot.pending.size > 0) return;
  const index = slots.indexOf(slot);
  if (index >= 0) slots.splice(index, 1);
  void slot.worker.terminate();
}

// --- [limits] a bounded, fair queue in front of the workers ---
// Measured on main: 16 refused 3.9 MB prompts queued whole on the worker pushed a paying key's
// 24k-character prompt from 8 ms to 7.5 s. Now each count is cut into batches of BATCH_CHARS, a
// worker takes one batch at a time, and the next batch is always the one of the count with the
// least left to do: a small count (a paying key's prompt) waits for at most the batch in flight
// (a few ms), whatever is queued; the oversized ones share what is left. The queue is bounded in total and
// per owner (the caller's key); past either bound the count is refused at once (TokenQueueFull),
// never moved to the main thread.

/** Characters per worker message: ~2 ms of tiktoken at ~4 MB/s. */
export const BATCH_CHARS = 8 * 1024;
/** Characters waiting to be counted, at most, in all and per owner. */
export const MAX_QUEUED_CHARS = 64 * 1024 * 1024;
export const MAX_OWNER_QUEUED_CHARS = 16 * 1024 * 1024;

/** The count queue is full: the caller answers 429 rather than count on the main thread. */
export class TokenQueueFull extends Error {
  constructor(readonly owner: string) {
    super('too many large prompts are waiting to be counted');
    this.name = 'TokenQueueFull';
  }
}

interface Job {
  /** The pieces to count, cut as batches are taken (tokenizerSegmentsOf); they add up to `chars`. */
  segments: Iterator<string, void>;
  /** A piece pulled that did not fit the last batch. */
  peeked: string | undefined;
  tokens: number;
  chars: number;
  /** Characters handed to a worker so far. */
  taken: number;
  owner: string;
  encoding: EncodingName;
  resolve: (tokens: number) => void;
  reject: (error: Error) => void;
}

const queue: Job[] = [];
let queuedChars = 0;
/** Counts ever queued (for tests: a pre-check refused a prompt without counting it). */
let countsQueued = 0;
/** Batches ever handed to a worker (for tests: how many went before a count's own). */
let batchesDispatched = 0;
const ownerChars = new Map<string, number>();

function charge(owner: string, chars: number): void {
  queuedChars += chars;
  const left = (ownerChars.get(owner) ?? 0) + chars;
  if (left > 0) ownerChars.set(owner, left);
  else ownerChars.delete(owner);
}

/** The next batch of a job: whole segments up to BATCH_CHARS (at least one), cut now. */
function takeBatch(job: Job): { segments: string[]; chars: number } {
  const segments: string[] = [];
  let chars = 0;
  while (job.taken + chars < job.chars) {
    const next = job.peeked ?? job.segments.next().value;
    job.peeked = undefined;
    if (next === undefined) {
      // Fewer characters than announced (never, by construction): what is left is nothing, and
      // its share of the queue goes back, so the job still ends.
      charge(job.owner, job.taken + chars - job.chars);
      job.chars = job.taken + chars;
      break;
    }
    if (segments.length > 0 && chars + next.length > BATCH_CHARS) {
      job.peeked = next;
      break;
    }
    segments.push(next);
    chars += next.length;
  }
  job.taken += chars;
  return { segments, chars };
}

/** An idle worker, starting one while the pool is below its size; undefined when all are busy. */
function idleSlot(): Slot | undefined {
  for (const slot of slots) if (slot.pending.size === 0) return slot;
  return slots.length < POOL_SIZE ? startSlot() : undefined;
}

/** Hands batches to idle workers, round-robin over the queued counts. */
function dispatch(): void {
  while (queue.length > 0) {
    let slot: Slot | undefined;
    try {
      slot = idleSlot();
    } catch (error) {
      for (const job of queue.splice(0))
        job.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (!slot) return;
    const job = queue.splice(smallestJob(), 1)[0]!;
    const batch = takeBatch(job);
    const id = nextId++;
    clearTimeout(slot.idleTimer);
    slot.pending.set(id, {
      resolve: (tokens) => {
        charge(job.owner, -batch.chars);
        job.tokens += tokens;
        if (job.taken >= job.chars) job.resolve(job.tokens);
        else queue.push(job);
        dispatch();
      },
      reject: (error) => {
        charge(job.owner, -(job.chars - job.taken + batch.chars));
        job.reject(error);
        dispatch();
      },
    });
    slot.worker.ref();
    batchesDispatched += 1;
    slot.worker.postMessage({ id, encoding: job.encoding, segments: batch.segments });
  }
}

/** Index of the queued count with the fewest characters left. */
function smallestJob(): number {
  let best = 0;
  let bestLeft = Number.POSITIVE_INFINITY;
  queue.forEach((job, i) => {
    const left = job.chars - job.taken;
    if (left < bestLeft) {
      best = i;
      bestLeft = left;
    }
  });
  return best;
}

/**
 * Queue room held for a count that is coming (early-refusal.ts holds it when it lets a large body
 * through, before the body is parsed): later arrivals see the room taken and are refused unparsed,
 * and the count, queued under the same key, takes the held room first. Whoever holds must release
 * (the request's end); a count releases its hold when it is queued.
 */
const holds = new Map<string, { chars: number; owner: string }>();

/** Holds `chars` of `owner`'s share under `key`; false (nothing held) when there is no room. */
export function holdQueueRoom(key: string, chars: number, owner: string): boolean {
  releaseQueueRoom(key);
  if (!queueHasRoom(chars, owner)) return false;
  charge(owner, chars);
  holds.set(key, { chars, owner });
  return true;
}

/** Gives back what `key` holds, if anything. */
export function releaseQueueRoom(key: string): void {
  const held = holds.get(key);
  if (!held) return;
  holds.delete(key);
  charge(held.owner, -held.chars);
}

/** Whether `chars` more fit the queue and this owner's share of it (asked before a count is queued). */
export function queueHasRoom(chars: number, owner = ''): boolean {
  return (
    queuedChars + chars <= MAX_QUEUED_CHARS && (ownerChars.get(owner) ?? 0) + chars <= MAX_OWNER_QUEUED_CHARS
  );
}

/**
 * Sum of tokens of already-split segments, counted in a worker. Rejects if the worker fails, or
 * with TokenQueueFull when the queue (or this owner's share of it) is full.
 */
export function countSegmentsInWorker(
  segments: readonly string[],
  encoding: EncodingName,
  owner = '',
): Promise<number> {
  let chars = 0;
  for (const s of segments) chars += s.length;
  return enqueue(segments.values(), chars, encoding, owner);
}

/**
 * Tokens of `texts` (as countTokens sums them), counted in a worker: each text is cut into its
 * tokenizer segments a batch at a time, as the queue hands batches out, so nothing long is split
 * on the main thread at once. Rejects as countSegmentsInWorker.
 */
export function countTextsInWorker(
  texts: readonly string[],
  encoding: EncodingName,
  owner = '',
  /** The key of room held for this count (holdQueueRoom): taken first, in the same turn. */
  holdKey?: string,
): Promise<number> {
  if (holdKey !== undefined) releaseQueueRoom(holdKey);
  let chars = 0;
  for (const text of texts) chars += text.length;
  function* segments(): Generator<string, void, undefined> {
    for (const text of texts) if (text.length > 0) yield* tokenizerSegmentsOf(text);
  }
  return enqueue(segments(), chars, encoding, owner);
}

function enqueue(
  segments: Iterator<string, void>,
  chars: number,
  encoding: EncodingName,
  owner: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    if (startupFailures >= MAX_STARTUP_FAILURES) {
      reject(new Error('token workers keep failing; counting on the main thread'));
      return;
    }
    if (!queueHasRoom(chars, owner)) {
      reject(new TokenQueueFull(owner));
      return;
    }
    if (chars === 0) {
      resolve(0);
      return;
    }
    charge(owner, chars);
    countsQueued += 1;
    queue.push({
      segments,
      peeked: undefined,
      tokens: 0,
      chars,
      taken: 0,
      owner,
      encoding,
      resolve,
      reject,
    });
    dispatch();
  });
}

/** Stops the token workers (clean shutdown, tests). Pending counts reject; callers fall back. */
export async function closeTokenWorkers(): Promise<void> {
  const stopping = slots.splice(0, slots.length);
  for (const slot of stopping) clearTimeout(slot.idleTimer);
  closing = true;
  try {
    await Promise.all(stopping.map((slot) => slot.worker.terminate()));
  } finally {
    closing = false;
  }
}

/** For tests: how many counts were ever handed to the workers' queue. */
export function tokenCountsQueued(): number {
  return countsQueued;
}

/** For tests: how many batches were ever handed to a worker. */
export function tokenBatchesDispatched(): number {
  return batchesDispatched;
}

/** For tests: how many workers are running. */
export function tokenWorkerCount(): number {
  return slots.length;
}
