/**
 * The load generator, a child process forked by the orchestrator (IPC): for each `run` message,
 * a fixed number of workers send requests back to back over an undici Pool for warm-up plus the
 * measurement window, timing each one with process.hrtime. It posts `window-start` and
 * `window-end` as the window opens and closes (the orchestrator reads CPU counters then), then
 * the result. Running apart from the orchestrator keeps the figures free of its own work.
 */
import { Pool } from 'undici';
import type { ChildMessage, LoadResult, LoadSpec, ParentMessage, RequestShape } from './protocol.js';
import { Samples } from './stats.js';

const MAX_ERROR_SAMPLES = 5;

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

interface Outcome {
  ok: boolean;
  firstChunkMs: number;
  /** A stream that ended at the output cap (finish_reason "length"): cut short, not finished. */
  cut: boolean;
  error?: string;
}

/** The end of a stream holds its final chunk: enough to read its finish_reason. */
const TAIL_BYTES = 512;

const SEQ = '{{seq}}';
let seq = 0;

/** The body to send: a `{{seq}}` in the shape's body replaced by a fresh number. */
function bodyOf(shape: RequestShape): string {
  const at = shape.body.indexOf(SEQ);
  if (at < 0) return shape.body;
  return shape.body.slice(0, at) + String(seq++) + shape.body.slice(at + SEQ.length);
}

async function once(pool: Pool, shape: RequestShape, headers: Record<string, string>, started: number) {
  const outcome: Outcome = { ok: false, firstChunkMs: 0, cut: false };
  try {
    const body = bodyOf(shape);
    const response = await pool.request({ method: 'POST', path: shape.path, headers, body });
    let first = 0;
    let text = '';
    // The last two reads, decoded only at the end (decoding every read would load the client).
    let previous: Buffer | undefined;
    let last: Buffer | undefined;
    for await (const chunk of response.body) {
      if (first === 0) first = nowMs();
      if (response.statusCode !== 200 && text.length < 300) text += String(chunk);
      previous = last;
      last = chunk as Buffer;
    }
    if (shape.stream && last) {
      const tail = Buffer.concat(previous ? [previous, last] : [last]);
      outcome.cut = String(tail.subarray(Math.max(0, tail.length - TAIL_BYTES))).includes(
        '"finish_reason":"length"',
      );
    }
    outcome.firstChunkMs = first === 0 ? nowMs() - started : first - started;
    outcome.ok = response.statusCode === 200;
    if (!outcome.ok) outcome.error = `${response.statusCode} ${text.slice(0, 200)}`;
  } catch (error) {
    outcome.error = (error as Error).message;
  }
  return outcome;
}

export async function runLoad(
  spec: LoadSpec,
  onWindow?: (edge: 'start' | 'end') => void,
): Promise<LoadResult> {
  const backgroundConcurrency = spec.background?.concurrency ?? 0;
  const pool = new Pool(spec.origin, {
    connections: spec.concurrency + backgroundConcurrency,
    pipelining: 1,
    keepAliveTimeout: 60_000,
  });
  const begin = nowMs();
  const windowStart = begin + spec.warmupMs;
  const windowEnd = windowStart + spec.durationMs;
  // Each edge is announced exactly once: by its timer, or at the end if the workers finished first.
  const announced = { start: false, end: false };
  const announce = (edge: 'start' | 'end') => {
    if (announced[edge]) return;
    announced[edge] = true;
    onWindow?.(edge);
  };
  const startTimer = setTimeout(() => announce('start'), spec.warmupMs);
  const endTimer = setTimeout(() => announce('end'), spec.warmupMs + spec.durationMs);

  const latency = new Samples();
  const ttfb = new Samples();
  let completed = 0;
  let cut = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  let userSeq = 0;
  const noteError = (error: string | undefined) => {
    errors += 1;
    if (error && errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(error);
  };

  const worker = async () => {
    const shape = spec.request;
    for (;;) {
      const started = nowMs();
      if (started >= windowEnd) return;
      const headers = spec.distinctUsers
        ? { ...shape.headers, 'x-gateway-user': `u${userSeq++ % spec.distinctUsers}` }
        : shape.headers;
      const outcome = await once(pool, shape, headers, started);
      const ended = nowMs();
      if (!outcome.ok) noteError(outcome.error);
      else if (started >= windowStart) {
        latency.add(ended - started);
        if (shape.stream) ttfb.add(outcome.firstChunkMs);
        if (outcome.cut) cut += 1;
      }
      if (outcome.ok && ended >= windowStart && ended < windowEnd) completed += 1;
    }
  };

  const bgLatency = new Samples();
  let bgErrors = 0;
  const backgroundWorker = async (shape: RequestShape) => {
    while (nowMs() < windowEnd) {
      const started = nowMs();
      const outcome = await once(pool, shape, shape.headers, started);
      if (outcome.ok) bgLatency.add(nowMs() - started);
      else {
        bgErrors += 1;
        noteError(outcome.error);
      }
    }
  };

  const running: Promise<void>[] = [];
  for (let i = 0; i < spec.concurrency; i++) running.push(worker());
  const bg = spec.background;
  if (bg) for (let i = 0; i < bg.concurrency; i++) running.push(backgroundWorker(bg.request));
  await Promise.all(running);
  clearTimeout(startTimer);
  clearTimeout(endTimer);
  announce('start');
  announce('end');
  await pool.close();

  const seconds = spec.durationMs / 1000;
  return {
    requests: completed,
    seconds,
    rps: completed / seconds,
    errors,
    errorSamples,
    latency: latency.summary(),
    ...(spec.request.stream ? { ttfb: ttfb.summary(), cut } : {}),
    ...(bg
      ? { background: { requests: bgLatency.length, errors: bgErrors, latency: bgLatency.summary() } }
      : {}),
  };
}

// As a forked child: serve `run` messages one at a time until `exit` or the parent goes away.
if (process.send) {
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'exit') {
      process.exit(0);
    }
    if (message.type !== 'run') return;
    runLoad(message.spec, (edge) => send({ type: edge === 'start' ? 'window-start' : 'window-end' })).then(
      (result) => send({ type: 'result', result }),
      (error: unknown) => send({ type: 'failed', message: (error as Error).message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
