/**
 * What a provider already sent when the meter cut its answer is billed whether or not the client
 * saw it: a provider faster than the relay (or than the gateway's event loop) leaves output in the
 * socket buffers. drainArrived reads what keeps arriving, briefly, before the upstream request is
 * aborted, so the settle counts it (and, when the answer turns out complete, bills its real usage).
 */

/** Stop once nothing arrived for this long: what is left is being generated, not buffered. */
const QUIET_MS = 25;
/** Never hold a cut answer's settle longer than this. */
const MAX_MS = 300;

export async function drainArrived(
  iterator: AsyncIterator<Uint8Array>,
  onChunk: (chunk: Uint8Array) => void,
): Promise<void> {
  const deadline = performance.now() + MAX_MS;
  for (;;) {
    const wait = Math.min(QUIET_MS, deadline - performance.now());
    if (wait <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    const quiet = new Promise<'quiet'>((resolve) => {
      timer = setTimeout(() => resolve('quiet'), wait);
    });
    const next = iterator.next().catch(() => ({ done: true, value: undefined }) as const);
    const got = await Promise.race([next, quiet]);
    clearTimeout(timer);
    if (got === 'quiet' || got.done) return;
    onChunk(got.value);
  }
}
