/**
 * Counts tokens off the main thread. tiktoken is synchronous WASM at ~4 MB/s, so a 400 KB prompt
 * would hold the event loop for ~100 ms and stall every other request.
 *
 * The worker is created from a CommonJS source string (`eval: true`) that requires tiktoken by
 * absolute path. Why not a worker file: under vitest/tsx the sibling would be a .ts file a plain
 * worker cannot load, and under dist/ it would be .js; the string works in both. `execArgv: []`
 * keeps loader flags (tsx, vitest) out of the worker, which needs none.
 *
 * The worker only sums encode_ordinary() over pieces the main thread already split
 * (tokenizerSegments), so its count is the main thread's count by construction.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { EncodingName } from './encoding.js';

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
const POOL_SIZE = Math.max(1, Math.min(2, availableParallelism() - 1));

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

/** The least busy worker, starting one while the pool is below its size. */
function pickSlot(): Slot {
  let best: Slot | undefined;
  for (const slot of slots) if (!best || slot.pending.size < best.pending.size) best = slot;
  if (best && (best.pending.size === 0 || slots.length >= POOL_SIZE)) return best;
  return startSlot();
}

/** Sum of tokens of already-split segments, counted in a worker. Rejects if the worker fails. */
export function countSegmentsInWorker(segments: string[], encoding: EncodingName): Promise<number> {
  return new Promise((resolve, reject) => {
    if (startupFailures >= MAX_STARTUP_FAILURES) {
      reject(new Error('token workers keep failing; counting on the main thread'));
      return;
    }
    let slot: Slot;
    try {
      slot = pickSlot();
    } catch (error) {
      reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const id = nextId++;
    clearTimeout(slot.idleTimer);
    slot.pending.set(id, { resolve, reject });
    slot.worker.ref();
    slot.worker.postMessage({ id, encoding, segments });
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

/** For tests: how many workers are running. */
export function tokenWorkerCount(): number {
  return slots.length;
}
