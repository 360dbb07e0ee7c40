/**
 * Large request bodies probed off the main thread (issue #13: sixteen refused 3.9 MB prompts
 * parsed on the main thread held a paying key's small request ~150 ms, because each of its turns of
 * the event loop waited behind a 7-10 ms parse). The body is streamed to the worker
 * (body-probe.worker.ts) chunk by chunk as it arrives, and the worker joins, parses and keeps it; the main thread gets a slim copy (long strings emptied) and the prompt's token
 * bounds for the model it resolves, enough for the admission's pre-check. A body the pre-check
 * refuses is never parsed here; one it lets through is parsed as before (parseJsonObjectInTurn).
 *
 * One worker, started on the first large body and ended after IDLE_MS without one; it must never
 * keep the process alive. A worker that cannot start, or answers oddly, makes the probe answer
 * undefined and the request takes the ordinary path; one that dies while it holds a body loses it
 * (its chunks were moved there, not copied): that request is answered 500 internal_error. Under tsx (tests, `npm run dev`)
 * the worker's TypeScript entry is loaded through tsx's API; built, the .js sibling is loaded.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ApiShape, RequestBody } from '../providers/types.js';
import type { PromptBounds } from '../tokens/lower-bound.js';
import type { ProbeAnswer, ProbeMessage } from './body-probe.worker.js';
import type { PrefixFacts } from './prompt-prefix.js';

/** Bodies from this size are probed (below it parsing costs a few ms at most). */
export const PROBE_MIN_BYTES = 256 * 1024;
const IDLE_MS = 30_000;
const MAX_STARTUP_FAILURES = 3;

export interface BodyProbe {
  /** The body with every string past SLIM_STRING_CHARS emptied: its small fields, as sent. */
  slim: RequestBody;
  /** The body's top-level keys under which a string was emptied (the slim copy differs there). */
  emptied: readonly string[];
  /** promptTokenBounds of the full body for `model` (an upstream model name); undefined if small. */
  bounds(model: string): Promise<PromptBounds | undefined>;
  /** Frees the worker's copy; call once decided. */
  drop(): void;
}

interface Pending {
  resolve(answer: ProbeAnswer | undefined): void;
}

let worker: Worker | undefined;
const pending = new Map<number, Pending>();
/** Listeners for what arriving bodies' prefixes prove, by body id. */
const prefixListeners = new Map<number, (facts: PrefixFacts) => void>();
let nextId = 1;
let idleTimer: NodeJS.Timeout | undefined;
let startupFailures = 0;
let answeredOnce = false;
let probed = 0;

let bytesProbed = 0;
let bodiesParsed = 0;

/** For tests: bodies the worker was asked to join and parse (a body its scan refused is not). */
export function bodiesParsedInProbe(): number {
  return bodiesParsed;
}

/** For tests: bodies streamed to the worker so far. */
export function bodiesProbed(): number {
  return probed;
}

/** For tests: bytes of them streamed so far (a body refused on its prefix is not sent whole). */
export function bodyBytesProbed(): number {
  return bytesProbed;
}

function entrySource(): { source: string | URL; eval: boolean } {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return { source: new URL('./body-probe.worker.js', here), eval: false };
  const api = createRequire(here)
    .resolve('tsx/esm/api')
    .replace(/\.cjs$/, '.mjs');
  const entry = new URL('./body-probe.worker.ts', here).href;
  const load = `import(${JSON.stringify(pathToFileURL(api).href)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return { source: load, eval: true };
}

function failAll(): void {
  for (const waiter of pending.values()) waiter.resolve(undefined);
  pending.clear();
  prefixListeners.clear();
}

function start(): Worker | undefined {
  if (startupFailures >= MAX_STARTUP_FAILURES) return undefined;
  const { source, eval: isEval } = entrySource();
  const started = new Worker(source, { eval: isEval, execArgv: [] });
  started.unref();
  started.on('message', (answer: ProbeAnswer) => {
    answeredOnce = true;
    startupFailures = 0;
    if ('early' in answer) {
      prefixListeners.get(answer.id)?.(answer.early);
      return;
    }
    const waiter = pending.get(answer.id);
    if (!waiter) return;
    pending.delete(answer.id);
    if (pending.size === 0) started.unref();
    waiter.resolve(answer);
  });
  const gone = () => {
    if (worker !== started) return;
    worker = undefined;
    if (!answeredOnce) startupFailures++;
    failAll();
  };
  started.on('error', gone);
  started.on('exit', gone);
  return started;
}

function ask(message: ProbeMessage): Promise<ProbeAnswer | undefined> {
  worker ??= start();
  const current = worker;
  if (!current) return Promise.resolve(undefined);
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    if (pending.size === 0 && worker === current) {
      worker = undefined;
      void current.terminate();
    }
  }, IDLE_MS);
  idleTimer.unref();
  current.ref();
  return new Promise((resolve) => {
    pending.set(message.id, { resolve });
    current.postMessage(message);
  });
}

/**
 * The reader waits for the worker once per this many bytes: what the worker scanned (and any
 * refusal its prefix proves) keeps up with what was read, so a refused body stops being read.
 */
const SYNC_BYTES = 512 * 1024;

/** A body streamed to the worker as it arrives, chunk by chunk; never joined here. */
export interface ProbeWriter {
  /**
   * Takes the chunk (its memory moves to the worker: the caller must not keep it); a promise when
   * the reader should wait for the worker to catch up first.
   */
  write(chunk: Buffer): Promise<void> | undefined;
  /**
   * The whole body has arrived: what its scan proves about the whole of it (the model, lower
   * bounds of the prompt's bytes and pieces; chat and Anthropic messages bodies), before it is
   * parsed; undefined when the scan proves nothing.
   */
  wholeFacts(): Promise<PrefixFacts | undefined>;
  /** The whole body has arrived: the probe, or undefined (take the ordinary path). */
  end(): Promise<BodyProbe | undefined>;
  /**
   * After end(), when the body is not refused: the bytes back from the worker, joined there, for
   * the ordinary path; undefined if the worker is gone with them.
   */
  take(): Promise<Buffer | undefined>;
  /** The body will not be probed (it failed to arrive): the worker forgets it. */
  abandon(): void;
  /**
   * Called, while the body arrives, each time its prefix proves a larger prompt (chat and
   * Anthropic messages bodies: http/prompt-prefix.ts); never after end() or abandon().
   */
  onPrefix(listener: (facts: PrefixFacts) => void): void;
}

/**
 * A writer for a body of `shape` about to arrive, or undefined when the worker cannot run. Each
 * chunk's memory is moved to the worker, not copied: the HTTP parser gives every chunk a buffer of
 * its own, and copying it into fresh memory measured ~1 GB/s on this kind of VM (page faults), so
 * sixteen refused 3.9 MB uploads held a paying key's small request ~30 ms. The worker keeps the
 * chunks and joins them; a body the pre-check lets through comes back joined (take()), so the main
 * thread does not join it either. (Batching the chunks into 512 KB messages measured no better.)
 */
export function startProbe(shape: ApiShape): ProbeWriter | undefined {
  worker ??= start();
  const current = worker;
  if (!current) return undefined;
  const id = nextId++;
  probed++;
  if (idleTimer) clearTimeout(idleTimer); // re-armed by end()
  current.postMessage({ type: 'begin', id, shape } satisfies ProbeMessage);
  let unsynced = 0;
  return {
    write(chunk) {
      const length = chunk.length; // 0 once its memory has moved
      bytesProbed += length;
      send(current, id, chunk);
      unsynced += length;
      if (unsynced < SYNC_BYTES || worker !== current) return undefined;
      unsynced = 0;
      return ask({ type: 'sync', id: nextId++ }).then(() => undefined);
    },
    async wholeFacts() {
      prefixListeners.delete(id);
      if (worker !== current) return undefined;
      const answer = await ask({ type: 'facts', id: nextId++, body: id });
      return answer && 'facts' in answer && answer.facts ? answer.facts : undefined;
    },
    async end() {
      prefixListeners.delete(id);
      if (worker !== current) return undefined; // it died meanwhile: its chunks are gone
      bodiesParsed++;
      return probeOf(id, await ask({ type: 'end', id }));
    },
    async take() {
      if (worker !== current) return undefined;
      const answer = await ask({ type: 'take', id: nextId++, body: id });
      return answer && 'bytes' in answer
        ? Buffer.from(answer.bytes.buffer, 0, answer.bytes.byteLength)
        : undefined;
    },
    abandon() {
      prefixListeners.delete(id);
      current.postMessage({ type: 'drop', id: nextId++, body: id } satisfies ProbeMessage);
    },
    onPrefix(listener) {
      prefixListeners.set(id, listener);
    },
  };
}

/**
 * Moves the chunk's memory to the worker when the chunk is the whole of its ArrayBuffer; copies
 * it when it is a slice (moving would take its neighbours along) or when its memory cannot move
 * (Node marks its Buffer pool so).
 */
function send(to: Worker, id: number, chunk: Buffer): void {
  const memory = chunk.buffer;
  if (memory instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === memory.byteLength) {
    const bytes = new Uint8Array(memory);
    try {
      to.postMessage({ type: 'chunk', id, bytes } satisfies ProbeMessage, [memory]);
      return;
    } catch {
      // Not transferable: copied below.
    }
  }
  const bytes = new Uint8Array(chunk);
  to.postMessage({ type: 'chunk', id, bytes } satisfies ProbeMessage, [bytes.buffer]);
}

function probeOf(id: number, parsed: ProbeAnswer | undefined): BodyProbe | undefined {
  if (!parsed || !('slim' in parsed)) return undefined;
  let dropped = false;
  return {
    slim: parsed.slim,
    emptied: parsed.emptied,
    async bounds(model) {
      if (dropped) return undefined;
      const answer = await ask({ type: 'bounds', id: nextId++, body: id, model });
      return answer && 'bounds' in answer && answer.bounds ? answer.bounds : undefined;
    },
    drop() {
      if (dropped) return;
      dropped = true;
      worker?.postMessage({ type: 'drop', id: nextId++, body: id } satisfies ProbeMessage);
    },
  };
}

/** Ends the worker (tests, shutdown); the next probe starts another. */
export async function closeBodyProbe(): Promise<void> {
  const current = worker;
  worker = undefined;
  failAll();
  if (current) await current.terminate();
}
