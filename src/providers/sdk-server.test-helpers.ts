/**
 * A tiny local HTTP server that answers every request with fixed bytes (an SSE stream or a JSON
 * body), so the official SDKs can be pointed at what the gateway would send a client.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FixedServer {
  url: string;
  /** The next answers: SSE bytes, or a JSON body. */
  answer(next: { sse: Uint8Array | string } | { json: unknown }): void;
  close(): Promise<void>;
}

export async function startFixedServer(): Promise<FixedServer> {
  let next: { sse: Uint8Array | string } | { json: unknown } = { json: {} };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if ('sse' in next) {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
        res.end(next.sse);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(next.json));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    answer(value) {
      next = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The SSE events of a stream text, each with its terminator. */
export function sseEvents(text: string): string[] {
  return text.split(/(?<=\n\n)/).filter((event) => event.length > 0);
}
