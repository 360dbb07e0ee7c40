/**
 * The bench's reference point: a bare pass-through proxy on the gateway's own stack (Hono,
 * @hono/node-server, an undici Pool) with no budget logic at all: no auth, no parsing, no
 * estimate, no store, no logs or metrics. It moves bytes the way the gateway does (the body read
 * from the Node request, plain header objects, JSON answers buffered, streams relayed chunk by
 * chunk), so the gap between the two is what the gateway's features cost.
 *
 *   node dist/scripts/bench/bare-proxy.js --port 0 --upstream http://127.0.0.1:PORT
 *
 * Prints `bare proxy listening on <url>` once up; SIGTERM/SIGINT stop it.
 */
import type { IncomingMessage } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Pool } from 'undici';

const SKIPPED = new Set(['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

type NodeBindings = { incoming: IncomingMessage };

function argument(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function readBody(incoming: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming as AsyncIterable<Buffer>) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function bareProxyApp(upstream: Pool): Hono<{ Bindings: NodeBindings }> {
  const app = new Hono<{ Bindings: NodeBindings }>();
  app.post('/v1/*', async (c) => {
    const incoming = c.env.incoming;
    const headers: Record<string, string> = {};
    const raw = incoming.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (!SKIPPED.has(name)) headers[name] = raw[i + 1]!;
    }
    const body = await readBody(incoming);
    const response = await upstream.request({ method: 'POST', path: c.req.path, headers, body });
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value === undefined || SKIPPED.has(name)) continue;
      out[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    if (!String(response.headers['content-type']).startsWith('text/event-stream')) {
      const bytes = new Uint8Array(await response.body.arrayBuffer());
      return new Response(bytes, { status: response.statusCode, headers: out });
    }
    const chunks = response.body[Symbol.asyncIterator]();
    const relayed = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const next = await chunks.next();
          if (next.done) controller.close();
          else controller.enqueue(next.value as Uint8Array);
        },
        cancel() {
          response.body.destroy();
        },
      },
      { highWaterMark: 1 },
    );
    return new Response(relayed, { status: response.statusCode, headers: out });
  });
  return app;
}

async function main(argv: string[]): Promise<void> {
  const upstreamUrl = argument(argv, '--upstream');
  if (!upstreamUrl) throw new Error('bare-proxy: --upstream URL is required');
  const port = Number(argument(argv, '--port') ?? 0);
  const pool = new Pool(new URL(upstreamUrl).origin, {
    connections: 256,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  });
  const app = bareProxyApp(pool);
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, (info) => {
    process.stdout.write(`bare proxy listening on http://127.0.0.1:${info.port}\n`);
  });
  const stop = () => {
    server.close();
    void pool.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
