/**
 * A real webhook receiver on node:http for alert tests: records every delivery (raw body, headers),
 * and can answer normally, fail with a status, or hang (never answer). It can be started on a port
 * chosen in advance (a receiver that is down, then up), stopped, and started again.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: Record<string, string>;
  /** The raw bytes as sent (signatures are over these). */
  raw: string;
  body: Record<string, unknown>;
  atMs: number;
}

export type ReceiverMode = { kind: 'ok' } | { kind: 'status'; status: number } | { kind: 'hang' };

export interface Receiver {
  readonly url: string;
  readonly port: number;
  received: Received[];
  /** Connections that are still open because the receiver hangs. */
  hanging(): number;
  mode: ReceiverMode;
  close(): Promise<void>;
}

export async function startReceiver(options: { port?: number; mode?: ReceiverMode } = {}): Promise<Receiver> {
  const received: Received[] = [];
  const hung = new Set<ServerResponse>();
  const state = { mode: options.mode ?? ({ kind: 'ok' } as ReceiverMode) };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(parts).toString('utf8');
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        body = {};
      }
      received.push({ headers, raw, body, atMs: Date.now() });
      const mode = state.mode;
      if (mode.kind === 'hang') {
        hung.add(res);
        res.on('close', () => hung.delete(res));
        return;
      }
      res.statusCode = mode.kind === 'status' ? mode.status : 200;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    hanging: () => hung.size,
    get mode() {
      return state.mode;
    },
    set mode(mode: ReceiverMode) {
      state.mode = mode;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Deliveries of one alert type (the receiver may get others). */
export function ofType(receiver: Receiver, type: string): Received[] {
  return receiver.received.filter((r) => r.body.type === type);
}
