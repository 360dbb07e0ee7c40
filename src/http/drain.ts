/**
 * Shutdown for rolling deploys ([hardening] 6; docs/operations.md). The order matters:
 *
 * 1. drain(): readiness fails (/readyz 503) and every answer, including those of requests already
 *    in flight whose headers are not sent yet, says `connection: close`, so each kept-alive socket
 *    closes after its current request instead of taking another one from a client that has not yet
 *    heard of the shutdown. The gateway still accepts: the load balancer needs a few probes
 *    (server.shutdown.pre_stop_delay_ms) to take it out of rotation.
 * 2. The caller stops accepting (server.close()) and idle sockets are closed.
 * 3. endStreams() at the end of the grace period: answers still streaming are ended as a complete
 *    HTTP message (the chunked terminator) instead of a cut socket, which clients report as a
 *    socket error. Ending the response cancels the relay's stream, so upstream is aborted and the
 *    partial output settled as for a client that left. (The stream relay may add an error event in
 *    the client's format before the end; this is the one place that ends them.)
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export interface DrainControl {
  readonly draining: boolean;
  drain(): void;
  /** Ends every answer still being written; resolves with how many there were. */
  endStreams(): number;
  /** Answers in flight (headers sent or not). */
  readonly inFlight: number;
}

export function trackForDrain(server: Server): DrainControl {
  const active = new Set<ServerResponse>();
  let draining = false;
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (draining) res.setHeader('connection', 'close');
    active.add(res);
    res.once('close', () => active.delete(res));
  });
  return {
    get draining() {
      return draining;
    },
    get inFlight() {
      return active.size;
    },
    drain() {
      if (draining) return;
      draining = true;
      for (const res of active) if (!res.headersSent) res.setHeader('connection', 'close');
    },
    endStreams() {
      let ended = 0;
      for (const res of active) {
        if (!res.headersSent || res.writableEnded) continue;
        res.end();
        ended++;
      }
      return ended;
    },
  };
}
