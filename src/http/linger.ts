/**
 * Lingering close for a request answered before its body was read (413): the answer says
 * `connection: close`, and Node then ends the socket and destroys it as soon as the answer is
 * written. The client is often still sending the body; bytes arriving at a closed socket make the
 * kernel answer with a reset, and a reset discards the 413 still in the client's receive buffer,
 * so the client saw EPIPE or ECONNRESET instead of the answer (about 1 in 25 oversized requests on a
 * kept-alive connection). As HTTP/1.1 (RFC 9112 §9.6) and nginx's `lingering_close` do: send the
 * answer, half-close, read and discard what still arrives, and close once the client has closed its
 * side or a bound (time or bytes) passes, whichever comes first.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** Longest wait for the client to finish sending and close. */
export const LINGER_MS = 5_000;
/** Most discarded bytes before the socket is cut anyway (a client streaming forever). */
export const LINGER_BYTES = 64 * 1024 * 1024;

const lingering = new WeakSet<Socket>();

/** Makes the server's close of this request's socket a lingering one. */
export function lingerOnClose(incoming: IncomingMessage): void {
  const socket = incoming.socket as Socket & { destroySoon?: () => void };
  if (!socket || lingering.has(socket) || typeof socket.destroySoon !== 'function') return;
  lingering.add(socket);
  // Node's server calls destroySoon() once a `connection: close` answer is written.
  socket.destroySoon = function lingeringClose(this: Socket) {
    if (this.writable) this.end();
    let discarded = 0;
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > LINGER_BYTES) this.destroy();
    });
    this.once('end', () => this.destroy());
    this.once('close', () => clearTimeout(timer));
    this.resume();
  };
  // Discard the body as it comes, so the receive buffer never fills (and nothing is kept).
  incoming.resume();
}
