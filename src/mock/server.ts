/**
 * A fake OpenAI + Anthropic API for tests, the demo and the benchmark: the providers' wire formats
 * (JSON bodies, SSE sequences, usage, error bodies) on plain node:http, with realistic token
 * counts and failures injected per request by `x-mock-*` headers:
 *
 *   x-mock-latency-ms: N          delay before the response headers (overrides latencyMs)
 *   x-mock-output-tokens: N       text tokens to generate, before the request's cap (overrides outputTokens)
 *   x-mock-chunks: N              spread the text over N SSE content chunks (overrides chunkCount)
 *   x-mock-chunk-delay-ms: N      pause between SSE content chunks
 *   x-mock-cached-tokens: N       report N prompt tokens as cache reads
 *   x-mock-cache-write-tokens: N  report N prompt tokens as cache writes (Anthropic)
 *   x-mock-reasoning-tokens: N    report N reasoning tokens, on top of the text (within the cap)
 *   x-mock-first-chunk-usage: N   OpenAI streams: a usage object (N completion tokens) in the first chunk too
 *   x-mock-fail: MODE[,MODE]      status:CODE | broken-stream:N | slow-first-byte:MS | hang | garbage-sse
 *   x-mock-fail-model: NAME       apply x-mock-fail only to requests whose body names this model
 *   x-mock-seed: S                deterministic ids (`<kind>S_1`, ...) and `created`, so a plain and a
 *                                 streamed answer to the same request compare strictly
 *
 * Streams: without x-mock-chunks, one content chunk per token (N tokens: N chunks; with `n` choices
 * each chunk is n events), x-mock-chunk-delay-ms apart. `outputTokensSent` counts tokens handed to
 * the socket, which is what the mock generated (what a provider bills): it stops generating at the
 * first chunk after it sees the client's close (see src/mock/lag.test.ts for the lag figures).
 *   x-mock-variant: NAME          chat completions as an OpenAI-compatible server answers (variants.ts):
 *                                 deepseek | openrouter | groq | no-stream-options
 *
 * Besides OpenAI's and Anthropic's paths: Gemini's /v1beta/models/{model}:{generateContent,
 * streamGenerateContent,countTokens} (gemini.ts; key in x-goog-api-key or ?key=) and Azure OpenAI's
 * /openai/deployments/{deployment}/{chat/completions,completions,embeddings}?api-version=... and
 * /openai/v1/... (key in api-key), answered by the OpenAI handlers. GET /v1/responses/{id}
 * answers a response it served with `store` not false (responses.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { countTokensHandler, messages } from './anthropic.js';
import { completions } from './completions.js';
import {
  anthropicError,
  azureError,
  googleError,
  injectedError,
  type MockError,
  malformedJson,
  notFound,
  openaiError,
  unauthorized,
  type WireFormat,
} from './errors.js';
import { Exchange, type Handler, type Json, StoredResponses } from './exchange.js';
import { countTokensHandler as geminiCountTokens, geminiRoute, generateContent } from './gemini.js';
import { newId } from './ids.js';
import { moderations } from './moderations.js';
import { chatCompletions, embeddings, models } from './openai.js';
import { type PlanDefaults, PlanError, planRequest } from './plan.js';
import { responses, retrieveResponse } from './responses.js';
import type { MockProvider, MockProviderOptions, ServedRecord } from './types.js';

export type { MockProvider, MockProviderOptions, ReportedUsage, ServedRecord } from './types.js';

interface Route {
  handler: Handler;
  format: WireFormat | 'detect';
  /** Azure OpenAI routes: `api-key` auth, deployment URLs need `api-version`. */
  azure?: 'deployment' | 'v1';
}

const ROUTES: Record<string, Route> = {
  'POST /v1/chat/completions': { handler: chatCompletions, format: 'openai' },
  'POST /v1/completions': { handler: completions, format: 'openai' },
  'POST /v1/embeddings': { handler: embeddings, format: 'openai' },
  'POST /v1/moderations': { handler: moderations, format: 'openai' },
  'POST /v1/responses': { handler: responses, format: 'openai' },
  'POST /v1/messages': { handler: messages, format: 'anthropic' },
  'POST /v1/messages/count_tokens': { handler: countTokensHandler, format: 'anthropic' },
  'GET /v1/models': { handler: models, format: 'detect' },
};

const GEMINI_METHODS: Record<string, Handler> = {
  generateContent: generateContent(false),
  streamGenerateContent: generateContent(true),
  countTokens: geminiCountTokens,
};

/** Azure OpenAI's data-plane paths, as the OpenAI route they mirror. */
const AZURE_DEPLOYMENT = /^\/openai\/deployments\/([^/]+)(\/chat\/completions|\/completions|\/embeddings)$/;

/** GET /v1/responses/{id} (OpenAI, or Azure's v1 API under /openai). */
const RETRIEVE = /^(\/openai)?\/v1\/responses\/([^/]+)$/;

/** Routes whose path carries a name: Gemini's models/{model}:{method}, Azure's deployments and v1 API. */
function dynamicRoute(method: string, path: string): Route | undefined {
  if (method === 'GET') {
    const retrieve = RETRIEVE.exec(path);
    if (!retrieve) return undefined;
    const route: Route = { handler: retrieveResponse(decodeURIComponent(retrieve[2]!)), format: 'openai' };
    return retrieve[1] ? { ...route, azure: 'v1' } : route;
  }
  if (method !== 'POST') return undefined;
  const gemini = geminiRoute(path);
  if (gemini) {
    const handler = GEMINI_METHODS[gemini.method];
    return handler ? { handler, format: 'google' } : undefined;
  }
  const deployment = AZURE_DEPLOYMENT.exec(path);
  if (deployment) {
    const route = ROUTES[`POST /v1${deployment[2]}`];
    return route ? { ...route, azure: 'deployment' } : undefined;
  }
  if (path.startsWith('/openai/v1/')) {
    const route = ROUTES[`POST ${path.slice('/openai'.length)}`];
    return route ? { ...route, azure: 'v1' } : undefined;
  }
  return undefined;
}

/** Azure's checks before the OpenAI handler: the key in `api-key`, the api-version of deployment URLs. */
function azureProblem(
  route: Route,
  req: IncomingMessage,
  query: URLSearchParams,
  options: MockProviderOptions,
): MockError | null {
  const key = options.azureApiKey;
  if (key !== undefined && req.headers['api-key'] !== key) {
    return azureError(
      401,
      'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
    );
  }
  if (route.azure === 'deployment' && !query.get('api-version')) {
    return azureError(404, 'Resource not found');
  }
  return null;
}

/** Which provider a request outside the fixed routes is talking to. */
function detectFormat(req: IncomingMessage): WireFormat {
  const h = req.headers;
  return h['anthropic-version'] !== undefined ||
    (h['x-api-key'] !== undefined && h.authorization === undefined)
    ? 'anthropic'
    : 'openai';
}

function copyHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () =>
      resolve(parts.length === 1 ? parts[0]!.toString('utf8') : Buffer.concat(parts).toString('utf8')),
    );
    req.on('error', reject);
  });
}

function authError(
  format: WireFormat,
  req: IncomingMessage,
  query: URLSearchParams,
  options: MockProviderOptions,
): MockError | null {
  if (format === 'google') {
    const key = options.googleApiKey;
    if (key === undefined) return null;
    const sent = req.headers['x-goog-api-key'] ?? query.get('key') ?? undefined;
    return sent === key ? null : unauthorized('google', sent !== undefined);
  }
  if (format === 'anthropic') {
    const key = options.anthropicApiKey;
    if (key === undefined) return null;
    // Current Anthropic SDKs send the API key as `Authorization: Bearer`, older ones as x-api-key.
    const sent = req.headers['x-api-key'];
    const bearer = req.headers.authorization;
    if (sent === key || bearer === `Bearer ${key}`) return null;
    return unauthorized('anthropic', sent !== undefined || bearer !== undefined);
  }
  const key = options.openaiApiKey;
  if (key === undefined) return null;
  const sent = req.headers.authorization;
  return sent === `Bearer ${key}` ? null : unauthorized('openai', sent !== undefined);
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  options: MockProviderOptions,
  defaults: PlanDefaults,
  served: ServedRecord[] | null,
  stored: StoredResponses,
): Promise<void> {
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const route = ROUTES[`${method} ${path}`] ?? dynamicRoute(method, path);
  const format = route === undefined || route.format === 'detect' ? detectFormat(req) : route.format;
  const requestId = newId('req_');
  const record: ServedRecord = {
    id: requestId,
    requestId,
    path,
    query: q < 0 ? '' : url.slice(q + 1),
    model: '',
    stream: false,
    body: undefined,
    headers: served ? copyHeaders(req) : {},
    traceparent: typeof req.headers.traceparent === 'string' ? req.headers.traceparent : null,
    usage: null,
    outputTokensSent: 0,
    completed: false,
    clientClosedAt: null,
    status: 0,
    startedAt: Date.now(),
  };
  served?.push(record);

  let plan: ReturnType<typeof planRequest>;
  let planProblem: string | undefined;
  try {
    plan = planRequest(req.headers, defaults);
  } catch (e) {
    if (!(e instanceof PlanError)) throw e;
    planProblem = e.message;
    plan = planRequest({}, defaults);
  }
  const ex = new Exchange(req, res, record, plan, format, stored);

  if (route === undefined) {
    req.resume();
    ex.sendError(notFound(format, method, path));
    return;
  }
  const denied = route.azure
    ? azureProblem(route, req, query, options)
    : authError(format, req, query, options);
  if (denied) {
    req.resume();
    ex.sendError(denied);
    return;
  }

  let body: Json = {};
  if (method === 'POST') {
    const raw = await readBody(req);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      ex.sendError(malformedJson(format));
      return;
    }
    record.body = parsed;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      ex.sendError(malformedJson(format));
      return;
    }
    body = parsed as Json;
    if (typeof body.model === 'string') record.model = body.model;
    else if (route.azure === 'deployment') record.model = decodeURIComponent(path.split('/')[3] ?? '');
    record.stream = body.stream === true;
  }
  // x-mock-fail-model: the failure applies only to requests for that model (fallback tests).
  const failModel = req.headers['x-mock-fail-model'];
  if (typeof failModel === 'string' && failModel !== body.model) plan.fail = {};
  if (planProblem !== undefined) {
    ex.sendError(
      format === 'anthropic'
        ? anthropicError(400, 'invalid_request_error', planProblem)
        : format === 'google'
          ? googleError(400, planProblem)
          : openaiError(400, { type: 'invalid_request_error', message: planProblem }),
    );
    return;
  }

  await ex.wait(plan.latencyMs + (plan.fail.slowFirstByteMs ?? 0));
  if (ex.closed || plan.fail.hang) return;
  if (plan.fail.status !== undefined) {
    ex.sendError(injectedError(format, plan.fail.status, requestId));
    return;
  }
  await route.handler(ex, body);
}

export function startMockProvider(options: MockProviderOptions = {}): Promise<MockProvider> {
  const served: ServedRecord[] = [];
  const defaults: PlanDefaults = {
    latencyMs: options.latencyMs ?? 0,
    outputTokens: options.outputTokens ?? 20,
    chunkCount: options.chunkCount,
  };
  const recordInto = options.record === false ? null : served;
  const stored = new StoredResponses();

  const server = createServer((req, res) => {
    serve(req, res, options, defaults, recordInto, stored).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const message = `mock provider failure: ${err instanceof Error ? err.message : String(err)}`;
      const body =
        detectFormat(req) === 'anthropic'
          ? { type: 'error', error: { type: 'api_error', message } }
          : { error: { message, type: 'server_error', param: null, code: null } };
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  // Outlive the gateway's pooled connections so an idle socket is never closed under a request.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      let closing: Promise<void> | undefined;
      resolve({
        url: `http://${host}:${address.port}`,
        port: address.port,
        served,
        reset() {
          served.length = 0;
        },
        close() {
          closing ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          });
          return closing;
        },
      });
    });
  });
}
