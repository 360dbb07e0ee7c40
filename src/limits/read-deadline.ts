/**
 * A read deadline for streamed answers: a client that stops draining (its socket's buffer full, so
 * nothing reads the body) holds an upstream connection for as long as it likes, and 280 of them
 * starved a provider pool. Wrapped around the relayed body, this calls `onStall` once no read came
 * for `ms` after a chunk was handed over; the caller aborts the upstream request (which bills what
 * was generated, like any client that left) and the body errors, so the server drops the socket.
 * Time spent waiting on the provider never counts: the clock runs only while a chunk waits for
 * the client.
 */
export function withReadDeadline(
  inner: ReadableStream<Uint8Array>,
  ms: number,
  onStall: () => void,
): ReadableStream<Uint8Array> {
  const reader = inner.getReader();
  let timer: NodeJS.Timeout | undefined;
  let over = false;
  let outer: ReadableStreamDefaultController<Uint8Array> | undefined;

  const stop = () => {
    over = true;
    if (timer) clearTimeout(timer);
  };
  const stall = () => {
    if (over) return;
    stop();
    onStall();
    reader.cancel().catch(() => {});
    try {
      outer?.error(new Error(`the client read nothing for ${ms} ms`));
    } catch {
      // already closed
    }
  };

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        outer = controller;
      },
      async pull(controller) {
        if (timer) clearTimeout(timer);
        try {
          const next = await reader.read();
          if (over) return;
          if (next.done) {
            stop();
            controller.close();
            return;
          }
          controller.enqueue(next.value);
          timer = setTimeout(stall, ms);
          timer.unref?.();
        } catch (error) {
          stop();
          controller.error(error);
        }
      },
      cancel(reason) {
        stop();
        return reader.cancel(reason);
      },
    },
    // Pulled only when the consumer reads: a queued chunk means the client is not draining.
    { highWaterMark: 0 },
  );
}
