import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withReadDeadline } from './read-deadline.js';

function source(chunks: number, cancelled: { value: boolean }) {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i++ < chunks) controller.enqueue(new Uint8Array([i]));
      else controller.close();
    },
    cancel() {
      cancelled.value = true;
    },
  });
}

describe('withReadDeadline', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('cuts a client that stops reading: onStall once, the source cancelled, the body errored', async () => {
    const cancelled = { value: false };
    const onStall = vi.fn();
    const reader = withReadDeadline(source(100, cancelled), 1000, onStall).getReader();
    expect((await reader.read()).value).toEqual(new Uint8Array([1]));
    await vi.advanceTimersByTimeAsync(999);
    expect(onStall).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(onStall).toHaveBeenCalledTimes(1);
    expect(cancelled.value).toBe(true);
    await expect(reader.read()).rejects.toThrow('read nothing for 1000 ms');
  });

  it('never fires while the client keeps reading, however long the whole stream takes', async () => {
    const onStall = vi.fn();
    const reader = withReadDeadline(source(20, { value: false }), 1000, onStall).getReader();
    let got = 0;
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      got++;
      await vi.advanceTimersByTimeAsync(900);
    }
    expect(got).toBe(20);
    await vi.advanceTimersByTimeAsync(5000);
    expect(onStall).not.toHaveBeenCalled();
  });
});
