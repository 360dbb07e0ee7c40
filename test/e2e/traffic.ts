/**
 * Mixed traffic through the official OpenAI client: prompts from a few words to over a thousand,
 * two models, output caps from small to none at all, streaming and not, with and without the usage
 * chunk, and the mock holding requests for a while so many are in flight at the budget's edge.
 * Seeded, so a failing run can be replayed.
 */
import OpenAI, { APIError } from 'openai';

export type Outcome =
  | { kind: 'served'; stream: boolean }
  | { kind: 'rejected'; stream: boolean }
  | { kind: 'other'; stream: boolean; detail: string };

const WORDS = [
  'budget',
  'gateway',
  'token',
  'stream',
  'river',
  'mountain',
  'quiet',
  'ledger',
  'amber',
  'signal',
];

/** mulberry32: a tiny seeded PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

interface PlannedRequest {
  body: OpenAI.Chat.ChatCompletionCreateParams;
  headers: Record<string, string>;
  /** When it starts, ms after the first: arrivals overlap, and later ones find budget settles freed. */
  delayMs: number;
}

function planRequest(random: () => number, spreadMs: number): PlannedRequest {
  const words = 3 + Math.floor(random() ** 2 * 1500);
  const prompt = Array.from({ length: words }, () => pick(random, WORDS)).join(' ');
  // Mostly the cheap model; a few expensive ones, whose uncapped reservation exceeds the whole budget.
  const model = random() < 0.07 ? 'gpt-4o' : 'gpt-4o-mini';
  const maxTokens = pick(random, [undefined, 16, 64, 128, 256, 1024]);
  const stream = random() < 0.5;
  const headers: Record<string, string> = {
    'x-mock-output-tokens': String(5 + Math.floor(random() * 400)),
    'x-mock-latency-ms': String(Math.floor(random() * 40)),
  };
  if (stream) {
    headers['x-mock-chunks'] = String(1 + Math.floor(random() * 8));
    headers['x-mock-chunk-delay-ms'] = String(Math.floor(random() * 15));
  }
  const body = {
    model,
    messages: [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: prompt },
    ],
    ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
    ...(stream
      ? { stream: true as const, ...(random() < 0.5 ? { stream_options: { include_usage: true } } : {}) }
      : {}),
  };
  return { body, headers, delayMs: Math.floor(random() * spreadMs) };
}

async function send(client: OpenAI, request: PlannedRequest): Promise<Outcome> {
  await new Promise((resolve) => setTimeout(resolve, request.delayMs));
  const stream = request.body.stream === true;
  try {
    if (stream) {
      const chunks = await client.chat.completions.create(
        request.body as OpenAI.Chat.ChatCompletionCreateParamsStreaming,
        { headers: request.headers },
      );
      let finished = false;
      for await (const chunk of chunks) if (chunk.choices[0]?.finish_reason) finished = true;
      return finished
        ? { kind: 'served', stream }
        : { kind: 'other', stream, detail: 'stream without finish_reason' };
    }
    const completion = await client.chat.completions.create(
      request.body as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming,
      { headers: request.headers },
    );
    return completion.usage
      ? { kind: 'served', stream }
      : { kind: 'other', stream, detail: 'completion without usage' };
  } catch (error) {
    // Refused: the budget is spent, or (issue #17) the money was held by requests in flight for
    // longer than budgeting.max_wait_ms.
    if (
      error instanceof APIError &&
      error.status === 429 &&
      (error.code === 'budget_exceeded' || error.code === 'budget_busy')
    ) {
      return { kind: 'rejected', stream };
    }
    const detail =
      error instanceof APIError ? `${error.status} ${error.code}: ${error.message}` : String(error);
    return { kind: 'other', stream, detail };
  }
}

/**
 * Sends `count` overlapping requests, round-robin over the gateways (and, independently, the keys);
 * resolves with each request's outcome once every one has finished.
 */
export async function sendMixedTraffic(options: {
  gatewayUrls: readonly string[];
  keys: readonly string[];
  count: number;
  seed: number;
  /** Start times spread over this many ms (0: all at once). */
  spreadMs: number;
}): Promise<Outcome[]> {
  const random = seededRandom(options.seed);
  const clients = options.gatewayUrls.map((url) =>
    options.keys.map(
      (key) => new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0, timeout: 60_000 }),
    ),
  );
  const planned = Array.from({ length: options.count }, (_, i) => ({
    client: clients[i % clients.length]![Math.floor(i / clients.length) % options.keys.length]!,
    request: planRequest(random, options.spreadMs),
  }));
  return Promise.all(planned.map(({ client, request }) => send(client, request)));
}

export function tally(outcomes: readonly Outcome[]) {
  const served = outcomes.filter((o) => o.kind === 'served');
  const rejected = outcomes.filter((o) => o.kind === 'rejected');
  const other = outcomes.filter((o): o is Extract<Outcome, { kind: 'other' }> => o.kind === 'other');
  return {
    served: served.length,
    servedStreams: served.filter((o) => o.stream).length,
    rejected: rejected.length,
    /** Anything else, grouped by what happened: { "503 store_unavailable: ...": 3 }. */
    other: other.reduce<Record<string, number>>((groups, o) => {
      groups[o.detail] = (groups[o.detail] ?? 0) + 1;
      return groups;
    }, {}),
  };
}

/** The request fillUntilRejected repeats: what it reserves is what it costs (the mock fills the cap). */
export const FILL_REQUEST = {
  model: 'gpt-4o-mini',
  maxTokens: 1024,
  /** The gateway's floor for a lowered cap (budgeting.min_output_tokens default). */
  minTokens: 256,
};

/**
 * Sends FILL_REQUEST one at a time until the gateway refuses one; resolves with how many were
 * served and the refusal. Shows the budget can be used up to its edge, with nothing leaked.
 */
export async function fillUntilRejected(
  url: string,
  key: string,
  most = 500,
): Promise<{ served: number; refusal: APIError }> {
  const client = new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 });
  for (let served = 0; served < most; served++) {
    try {
      await client.chat.completions.create(
        {
          model: FILL_REQUEST.model,
          max_tokens: FILL_REQUEST.maxTokens,
          messages: [{ role: 'user', content: 'Fill the budget, please.' }],
        },
        { headers: { 'x-mock-output-tokens': String(FILL_REQUEST.maxTokens) } },
      );
    } catch (error) {
      if (error instanceof APIError && error.status === 429) return { served, refusal: error };
      throw error;
    }
  }
  throw new Error(`no refusal after ${most} requests`);
}
