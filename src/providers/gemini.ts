/**
 * Google's Gemini API (`/v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`),
 * served by providers of kind `google`. The model is in the path, not the body (modelOf,
 * upstreamPathFor); the stream is the path's choice too, so there is one adapter per method.
 *
 * Usage fields read from `usageMetadata` (anything else ignored; a missing or odd count is 0):
 * | gateway field     | Gemini                                                                  |
 * |-------------------|-------------------------------------------------------------------------|
 * | inputTokens       | promptTokenCount - cachedContentTokenCount + toolUsePromptTokenCount    |
 * | cachedInputTokens | cachedContentTokenCount (inside promptTokenCount)                       |
 * | cacheWriteTokens  | 0 (explicit caches are created and billed by storage time elsewhere)     |
 * | outputTokens      | candidatesTokenCount + thoughtsTokenCount (thoughts are billed as output) |
 * | reasoningTokens   | thoughtsTokenCount                                                      |
 *
 * The output cap. Gemini's `generationConfig.maxOutputTokens` is per candidate, and every one of
 * `candidateCount` candidates is billed. Google documents thinking as separate from it while the
 * models observably spend thoughts inside it (googleapis/python-genai#2062); the gateway takes the
 * safe reading of both: a request's cap per candidate is maxOutputTokens plus an explicit positive
 * `thinkingConfig.thinkingBudget`, and when the gateway lowers it, maxOutputTokens + thinkingBudget
 * is kept within the granted cap (the budget shrunk in proportion).
 */
import type { GatewayError } from '../errors.js';
import { checkListLength, firstError, invalid, isAbsent, isObject, member } from './common.js';
import { GeminiAssembler, GeminiStreamTap } from './gemini-stream.js';
import { geminiUsage } from './gemini-usage.js';
import type { ConversationState, EndpointAdapter, RequestBody, WorstCase } from './types.js';

/** Gemini accepts at most this many candidates per request. */
export const MAX_CANDIDATES = 8;

export { geminiUsage, usageMetadataOf } from './gemini-usage.js';

const PATH = /^\/v1beta\/models\/([^/:]+):([A-Za-z]+)$/;

/** The model and method of a Gemini path (`/v1beta/models/gemini-2.5-flash:generateContent`). */
export function parseGeminiPath(path: string): { model: string; method: string } | undefined {
  const match = PATH.exec(path);
  if (!match) return undefined;
  try {
    return { model: decodeURIComponent(match[1] as string), method: match[2] as string };
  } catch {
    return undefined;
  }
}

function generationConfig(body: RequestBody): Record<string, unknown> | undefined {
  return isObject(body.generationConfig) ? body.generationConfig : undefined;
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function maxOutputTokens(body: RequestBody): number | undefined {
  return positive(generationConfig(body)?.maxOutputTokens);
}

/** An explicit positive thinking budget; -1 (dynamic), 0 (off) and absent are undefined. */
function thinkingBudget(body: RequestBody): number | undefined {
  return positive(member(generationConfig(body)?.thinkingConfig, 'thinkingBudget'));
}

function candidates(body: RequestBody): number {
  return positive(generationConfig(body)?.candidateCount) ?? 1;
}

function requestedCap(body: RequestBody): number | undefined {
  const max = maxOutputTokens(body);
  return max === undefined ? undefined : max + (thinkingBudget(body) ?? 0);
}

/** Keeps maxOutputTokens + thinkingBudget within the cap the gateway granted (see the top). */
export function setGeminiCap(body: RequestBody, cap: number): void {
  const config = { ...(generationConfig(body) ?? {}) };
  const budget = thinkingBudget(body);
  if (budget === undefined) {
    config.maxOutputTokens = cap;
  } else {
    const asked = maxOutputTokens(body);
    const share = asked === undefined ? 0.5 : budget / (asked + budget);
    const thinking = Math.min(budget, Math.floor(cap * share));
    config.maxOutputTokens = Math.max(1, cap - thinking);
    config.thinkingConfig = { ...(config.thinkingConfig as object), thinkingBudget: thinking };
  }
  body.generationConfig = config;
}

function worstCase(body: RequestBody): WorstCase {
  const n = candidates(body);
  return { outputMultiplier: n, prompts: 1, generatedPerPrompt: n, returnedPerPrompt: n };
}

/** Fields the REST API also takes in snake_case, and the camelCase name the gateway reads. */
const SNAKE_FIELDS: Readonly<Record<string, string>> = {
  generation_config: 'generationConfig',
  max_output_tokens: 'maxOutputTokens',
  candidate_count: 'candidateCount',
  thinking_config: 'thinkingConfig',
  thinking_budget: 'thinkingBudget',
  response_modalities: 'responseModalities',
  cached_content: 'cachedContent',
  system_instruction: 'systemInstruction',
};

/**
 * Google's JSON parser takes both spellings of a field, so a body could say one cap in
 * `generation_config.max_output_tokens` and another in `generationConfig`: the snake_case fields
 * the gateway reads are renamed, and a body with both spellings of one is refused (it can be read
 * two ways). True when the body changed.
 */
export function normaliseGeminiFields(body: RequestBody): boolean | GatewayError {
  let changed = false;
  const rename = (object: Record<string, unknown>, path: string): GatewayError | null => {
    for (const snake in SNAKE_FIELDS) {
      if (!(snake in object)) continue;
      const camel = SNAKE_FIELDS[snake] as string;
      if (camel in object) {
        return invalid(
          `${path}${camel}`,
          `Invalid request: both '${path}${snake}' and '${path}${camel}' are set.`,
        );
      }
      object[camel] = object[snake];
      delete object[snake];
      changed = true;
    }
    return null;
  };
  const problem =
    rename(body, '') ??
    (isObject(body.generationConfig) ? rename(body.generationConfig, 'generationConfig.') : null) ??
    (isObject(member(body.generationConfig, 'thinkingConfig'))
      ? rename(
          member(body.generationConfig, 'thinkingConfig') as Record<string, unknown>,
          'generationConfig.thinkingConfig.',
        )
      : null);
  return problem ?? changed;
}

function checkContents(body: RequestBody): GatewayError | null {
  const contents = body.contents;
  if (isAbsent(contents)) return invalid('contents', "Missing required field: 'contents'.");
  if (!Array.isArray(contents) || contents.length === 0) {
    return invalid('contents', "Invalid 'contents': expected a non-empty array.");
  }
  const tooLong = checkListLength('contents', contents);
  if (tooLong) return tooLong;
  for (let i = 0; i < contents.length; i++) {
    const content: unknown = contents[i];
    if (!isObject(content) || !Array.isArray(content.parts)) {
      return invalid(
        `contents[${i}].parts`,
        `Invalid 'contents[${i}]': expected an object with a 'parts' array.`,
      );
    }
  }
  return null;
}

function checkGenerationConfig(body: RequestBody): GatewayError | null {
  const config = body.generationConfig;
  if (isAbsent(config)) return null;
  if (!isObject(config))
    return invalid('generationConfig', "Invalid 'generationConfig': expected an object.");
  const max = config.maxOutputTokens;
  if (!isAbsent(max) && positive(max) === undefined) {
    return invalid(
      'generationConfig.maxOutputTokens',
      "Invalid 'generationConfig.maxOutputTokens': expected a positive integer.",
    );
  }
  const n = config.candidateCount;
  if (!isAbsent(n) && (positive(n) === undefined || (n as number) > MAX_CANDIDATES)) {
    return invalid(
      'generationConfig.candidateCount',
      `Invalid 'generationConfig.candidateCount': expected an integer from 1 to ${MAX_CANDIDATES}.`,
    );
  }
  const thinking = config.thinkingConfig;
  if (!isAbsent(thinking) && !isObject(thinking)) {
    return invalid(
      'generationConfig.thinkingConfig',
      "Invalid 'generationConfig.thinkingConfig': expected an object.",
    );
  }
  const budget = member(thinking, 'thinkingBudget');
  if (!isAbsent(budget) && (typeof budget !== 'number' || !Number.isSafeInteger(budget) || budget < -1)) {
    return invalid(
      'generationConfig.thinkingConfig.thinkingBudget',
      "Invalid 'generationConfig.thinkingConfig.thinkingBudget': expected -1 (dynamic), 0 (off) or a positive integer.",
    );
  }
  return null;
}

/** Tools Google bills per call or per grounded prompt, which the gateway has no price for. */
const BILLED_TOOLS = [
  'googleSearch',
  'googleSearchRetrieval',
  'googleMaps',
  'enterpriseWebSearch',
  'fileSearch',
];

function unpriced(field: string, what: string): GatewayError {
  return invalid(
    field,
    `Unsupported '${field}': ${what}; this gateway has no price for it, so it cannot keep the request inside a budget.`,
  );
}

export function geminiPricingProblem(body: RequestBody): GatewayError | null {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  for (let i = 0; i < tools.length; i++) {
    const tool: unknown = tools[i];
    if (!isObject(tool)) continue;
    const billed = BILLED_TOOLS.find((name) => !isAbsent(tool[name]));
    if (billed) return unpriced(`tools[${i}].${billed}`, `the tool ${billed} is billed per use`);
  }
  const modalities = generationConfig(body)?.responseModalities;
  if (Array.isArray(modalities) && modalities.some((m) => m !== 'TEXT' && m !== 'text')) {
    return unpriced(
      'generationConfig.responseModalities',
      'image and audio output are billed at their own prices',
    );
  }
  if (!isAbsent(generationConfig(body)?.speechConfig)) {
    return unpriced('generationConfig.speechConfig', 'audio output is billed at audio token prices');
  }
  return null;
}

/** An explicit cache adds its tokens to the prompt by reference: reserved as the model's context. */
function conversationState(body: RequestBody): ConversationState {
  const cached = body.cachedContent;
  return typeof cached === 'string' && cached.length > 0 ? { conversationId: cached } : {};
}

/** Bodies whose snake_case fields validate() renamed (so the bytes sent upstream are rewritten). */
const renamed = new WeakSet<RequestBody>();

function streamPath(model: string): string {
  return `/v1beta/models/${encodeURIComponent(model)}:streamGenerateContent?alt=sse`;
}

function makeAdapter(method: 'generateContent' | 'streamGenerateContent'): EndpointAdapter {
  const stream = method === 'streamGenerateContent';
  return {
    shape: 'gemini',
    path: `/v1beta/models/{model}:${method}`,
    format: 'google',
    provider: 'google',
    acceptsQueryKey: true,
    validate: (body) => {
      const normalised = normaliseGeminiFields(body);
      if (typeof normalised !== 'boolean') return normalised;
      if (normalised) renamed.add(body);
      return firstError(
        () => checkContents(body),
        () => checkGenerationConfig(body),
        () => geminiPricingProblem(body),
      );
    },
    // validate() renamed snake_case fields in place; the bytes are re-serialised when it did.
    alignCapFields: (body) => renamed.has(body),
    isStream: () => stream,
    worstCase,
    pricingProblem: geminiPricingProblem,
    conversationState,
    responseIdFromJson: () => undefined,
    requestedOutputCap: requestedCap,
    setOutputCap: (body, cap) => setGeminiCap(body, cap),
    // Gemini streams carry usageMetadata in every chunk: nothing to ask for, nothing to strip.
    requestUsageInStream: () => false,
    usageFromJson: (json) => geminiUsage(member(json, 'usageMetadata')),
    createStreamTap: (options) => new GeminiStreamTap(options.wholeEvents === true),
    modelOf: (_body, path) => parseGeminiPath(path)?.model ?? '',
    upstreamPathFor: (model) =>
      stream ? streamPath(model) : `/v1beta/models/${encodeURIComponent(model)}:generateContent`,
    // A plain generateContent is metered: the same body goes to the streaming method's URL
    // (upstreamStreamPathFor; the stream is the URL's choice, not the body's) and the events are
    // assembled into the generateContent answer.
    canStreamUpstream: () => true,
    asUpstreamStream: (body) => ({ ...body }),
    upstreamStreamPathFor: streamPath,
    createAssembler: () => new GeminiAssembler(),
  };
}

export const geminiGenerateAdapter = makeAdapter('generateContent');
export const geminiStreamAdapter = makeAdapter('streamGenerateContent');
