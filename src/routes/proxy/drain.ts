/**
 * What a provider already sent when the meter cut its answer is billed whether or not the client
 * saw it: a provider faster than the relay (or than the gateway's event loop) leaves output in the
 * socket buffers. drainArrived reads what has already arrived, and nothing that is still being
 * generated, before the upstream request is aborted, so the settle counts it (and, when the answer
 * turns out complete, bills its real usage).
 */

/** Never hold a cut answer's settle longer than this. */
const MAX_MS = 300;

/**
 * Resolves after two turns of the event loop: each turn polls the sockets without blocking while
 * an immediate is pending, so what already sat in the kernel's buffers has been read by then.
 * Not a timer: a loaded loop runs timers before it polls, and a quiet timer would then end the
 * drain before data already there is read (books below what the provider sent); and a longer
 * quiet lets the provider generate on while the gateway waits (books past the hold: a 25 ms quiet
 * against a provider sending every 25 ms drained for the whole 300 ms).
 */
function twoLoopTurns(): Promise<'quiet'> {
  return new Promise((resolve) => setImmediate(() => setImmediate(() => resolve('quiet'))));
}

export async function drainArrived(
  iterator: AsyncIterator<Uint8Array>,
  onChunk: (chunk: Uint8Array) => void,
): Promise<void> {
  const deadline = performance.now() + MAX_MS;
  while (performance.now() < deadline) {
    const next = iterator.next().catch(() => ({ done: true, value: undefined }) as const);
    const got = await Promise.race([next, twoLoopTurns()]);
    if (got === 'quiet' || got.done) return;
    onChunk(got.value);
  }
}
