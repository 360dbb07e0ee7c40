/**
 * What the bench sends: the request bodies and headers of each scenario, the prompt text, and the
 * gateway config it runs with (every kind of budget enforced, limits large enough that nothing is
 * rejected).
 */
import type { RequestShape } from './protocol.js';

export const BENCH_KEY = 'sk-gw-bench-key-0001';
export const UPSTREAM_KEY = 'sk-bench-upstream-0001';
export const MODEL = 'gpt-4o-mini';
/** Sent on every request so the per-user `"*"` budget applies (the users scenario varies it). */
export const BENCH_USER = 'bench-user';

/** English and code, as prompts mix them; shared with scripts/bench-tokens.ts. */
export const PIECES = [
  'The gateway estimates the worst-case cost of every request before it reaches the provider, ',
  'reserving that amount against each budget the request falls under. ',
  'When the response arrives, the reservation is replaced by the actual cost.\n\n',
  'export function settle(reservation: Reservation, usage: Usage): bigint {\n',
  '  const cost = usage.inputTokens * price.input + usage.outputTokens * price.output;\n',
  '  return cost > reservation.amount ? cost : reservation.amount; // never negative\n}\n',
  'Budgets reset on calendar boundaries in their own timezone (e.g. Europe/Berlin), ',
  'and thresholds such as 80% can downgrade gpt-4o to gpt-4o-mini automatically.\n',
];

/** English prose and code, ~4 characters per o200k_base token, never repeating exactly. */
export function benchText(chars: number): string {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < chars; i += 1) {
    const piece = PIECES[i % PIECES.length]!.replace('gateway', `gateway #${i}`);
    parts.push(piece);
    length += piece.length;
  }
  return parts.join('').slice(0, chars);
}

/** ~50k o200k_base tokens (the bench reports the exact count). */
export const LARGE_PROMPT_CHARS = 200_000;

export type Target =
  | 'direct'
  | 'bare'
  | 'gateway-sqlite'
  | 'gateway-redis'
  | 'gateway-redis-traced'
  | 'gateway-redis-unmetered'
  | 'gateway-redis-pghist';

function headersFor(target: Target, extra: Record<string, string> = {}): Record<string, string> {
  const key = target.startsWith('gateway') ? BENCH_KEY : UPSTREAM_KEY;
  return {
    'content-type': 'application/json',
    authorization: `Bearer ${key}`,
    'x-gateway-user': BENCH_USER,
    ...extra,
  };
}

/**
 * The same system prompt every time (as an app sends it) and a user message that differs per
 * request, so nothing downstream can answer from a cache keyed on the whole prompt.
 */
const SMALL_MESSAGES = [
  {
    role: 'system',
    content:
      'You are a concise assistant for a finance team. Answer in at most three sentences, ' +
      'use plain words, and say so when you are unsure.',
  },
  { role: 'user', content: 'Write a haiku about keeping to budget number {{seq}}.' },
];

/** A small chat completion, not streamed: the client sets max_tokens, so the body goes upstream as sent. */
export function smallChat(target: Target): RequestShape {
  return {
    path: '/v1/chat/completions',
    headers: headersFor(target),
    body: JSON.stringify({ model: MODEL, messages: SMALL_MESSAGES, max_tokens: 256 }),
    stream: false,
  };
}

/**
 * A streamed chat completion of 50 content chunks, sent the way the official SDKs send it (no
 * stream_options), so the gateway adds include_usage and strips the usage chunk it asked for.
 */
export function streamedChat(target: Target): RequestShape {
  return {
    path: '/v1/chat/completions',
    headers: headersFor(target, { 'x-mock-output-tokens': '50', 'x-mock-chunks': '50' }),
    body: JSON.stringify({ model: MODEL, messages: SMALL_MESSAGES, max_tokens: 256, stream: true }),
    stream: true,
  };
}

/** The long stream's answer: several metering slices (1024 tokens by default) long. */
export const LONG_STREAM_OUTPUT_TOKENS = 4000;

/**
 * A streamed chat completion of 4,000 output tokens under `max_tokens: 16000`, as an agent asks for
 * a long answer: metered, it reserves one slice and extends a few times as the answer is relayed;
 * unmetered, it reserves the whole 16,000-token cap up front. Paced, the mock sends 100 chunks of
 * 40 tokens 1 ms apart (a very fast provider: ~30,000 tokens/s, still one chunk per read for a
 * gateway that keeps up); at once, 400 chunks with no pause, so the answer arrives in a few large
 * reads, faster than an extension's store round trip.
 */
export function longStream(target: Target, paced: boolean): RequestShape {
  return {
    path: '/v1/chat/completions',
    headers: headersFor(target, {
      'x-mock-output-tokens': String(LONG_STREAM_OUTPUT_TOKENS),
      ...(paced ? { 'x-mock-chunks': '100', 'x-mock-chunk-delay-ms': '1' } : { 'x-mock-chunks': '400' }),
    }),
    body: JSON.stringify({ model: MODEL, messages: SMALL_MESSAGES, max_tokens: 16000, stream: true }),
    stream: true,
  };
}

/**
 * The large prompt: ~50k tokens of text. The mock holds it for 200 ms, as a provider would take
 * at least that long on such a prompt, so one is in flight at any time with one worker. The text
 * is the same each time: the mock counts it once (its cache), while the gateway counts prompts
 * this large afresh every time (off its main thread), which is the cost being measured.
 */
export function largeChat(target: Target, text: string): RequestShape {
  return {
    path: '/v1/chat/completions',
    headers: headersFor(target, { 'x-mock-latency-ms': '200' }),
    body: JSON.stringify({
      model: MODEL,
      messages: [
        { role: 'system', content: 'Summarise the document.' },
        { role: 'user', content: text },
      ],
      max_tokens: 256,
    }),
    stream: false,
  };
}

export interface GatewayConfigOptions {
  mockUrl: string;
  store: { type: 'sqlite'; path: string } | { type: 'redis'; url: string; prefix: string };
  /** Tracing on: OTLP/HTTP protobuf exports to this receiver (the tracing-on variant). */
  otlpEndpoint?: string;
  /** History in this Postgres (history.store: postgres) instead of beside the budget store. */
  historyUrl?: string;
  /** Metering off (`stream_slice_tokens: 0`): every request reserves its whole output cap. */
  unmetered?: boolean;
}

/** The gateway's config: key, team, per-user template and global budgets on every request. */
export function gatewayConfigYaml(options: GatewayConfigOptions): string {
  const store =
    options.store.type === 'sqlite'
      ? `{ type: sqlite, path: ${JSON.stringify(options.store.path)} }`
      : `{ type: redis, url: ${JSON.stringify(options.store.url)}, prefix: ${options.store.prefix} }`;
  return `# Generated by scripts/bench.ts
server: { host: 127.0.0.1, port: 0, log_level: info }
store: ${store}
providers:
  openai: { kind: openai, base_url: ${JSON.stringify(`${options.mockUrl}/v1`)}, api_key: ${UPSTREAM_KEY} }
models:
  ${MODEL}: { provider: openai, input: 0.15, output: 0.60, cached_input: 0.075, max_output_tokens: 16384 }
  gpt-4o: { provider: openai, input: 2.50, output: 10.00, cached_input: 1.25, max_output_tokens: 16384 }
keys:
  - { id: bench, key: ${BENCH_KEY}, team: bench }
budgets:
  - id: bench-key
    scope: { key: bench }
    limit_usd: 1000000
    period: monthly
    thresholds: [{ at: 0.9, alert: true, downgrade: { gpt-4o: ${MODEL} } }]
  - { id: bench-team, scope: { team: bench }, limit_usd: 1000000, period: monthly }
  - { id: per-user, scope: { user: "*" }, limit_usd: 1000, period: daily }
  - { id: everything, scope: global, limit_usd: 1000000, period: monthly }
${options.unmetered ? 'budgeting: { stream_slice_tokens: 0 }\n' : ''}${options.otlpEndpoint ? `telemetry:\n  otlp: { endpoint: ${JSON.stringify(options.otlpEndpoint)}, protocol: http/protobuf }\n` : ''}${options.historyUrl ? `history: { store: postgres, url: ${JSON.stringify(options.historyUrl)} }\n` : ''}`;
}
