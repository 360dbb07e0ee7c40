/**
 * Google's Gemini API (generativelanguage.googleapis.com v1beta) as it answers:
 * `:generateContent` (one GenerateContentResponse), `:streamGenerateContent?alt=sse` (`data:` events
 * with CRLF framing, each with the candidates' new text and a usageMetadata of the totals so far;
 * the last with finishReason), `:countTokens` ({ totalTokens }), errors as `{ error: { code,
 * message, status } }`. Billing as Google bills: every candidate, thoughts as output.
 *
 * Output: `x-mock-output-tokens` of text and `x-mock-reasoning-tokens` of thoughts per candidate,
 * thoughts within an explicit `thinkingBudget`, both together within `maxOutputTokens` (how the
 * models behave: thoughts are spent inside it); `x-mock-cached-tokens` as cachedContentTokenCount.
 * Prompt tokens: o200k_base, 3 per turn plus the text, 3 more to prime the reply.
 */
import { countTokens } from '../tokens/encoding.js';
import { googleError } from './errors.js';
import type { Exchange, Handler, Json } from './exchange.js';
import { newId } from './ids.js';
import { outputSize } from './plan.js';
import { generatedText, textChunks } from './text.js';

const PER_TURN = 3;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function partsTokens(parts: unknown): number {
  let n = 0;
  for (const part of Array.isArray(parts) ? parts : []) {
    if (!isObject(part)) continue;
    if (typeof part.text === 'string') n += countTokens(part.text, 'o200k_base');
    else n += countTokens(JSON.stringify(part), 'o200k_base');
  }
  return n;
}

export function geminiPromptTokens(body: Json): number {
  const request = isObject(body.generateContentRequest) ? body.generateContentRequest : body;
  let n = PER_TURN;
  const system = request.systemInstruction;
  if (isObject(system)) n += PER_TURN + partsTokens(system.parts);
  for (const content of Array.isArray(request.contents) ? request.contents : []) {
    if (!isObject(content)) continue;
    n += PER_TURN + (typeof content.role === 'string' ? countTokens(content.role, 'o200k_base') : 0);
    n += partsTokens(content.parts);
  }
  return n;
}

/** The model and method of `/v1beta/models/{model}:{method}`. */
export function geminiRoute(path: string): { model: string; method: string } | undefined {
  const match = /^\/v1beta\/models\/([^/:]+):([A-Za-z]+)$/.exec(path);
  return match ? { model: decodeURIComponent(match[1]!), method: match[2]! } : undefined;
}

function config(body: Json): Json {
  return isObject(body.generationConfig) ? body.generationConfig : {};
}

function validate(ex: Exchange, body: Json): boolean {
  if (!Array.isArray(body.contents) || body.contents.length === 0) {
    ex.sendError(googleError(400, '* GenerateContentRequest.contents: contents is not specified'));
    return false;
  }
  if ('model' in body) {
    ex.sendError(googleError(400, 'Invalid JSON payload received. Unknown name "model": Cannot find field.'));
    return false;
  }
  const n = config(body).candidateCount;
  if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 8)) {
    ex.sendError(googleError(400, 'candidateCount must be between 1 and 8.'));
    return false;
  }
  return true;
}

export const countTokensHandler: Handler = (ex, body) => {
  const request = isObject(body.generateContentRequest) ? body.generateContentRequest : body;
  if (!Array.isArray(request.contents)) {
    ex.sendError(googleError(400, '* CountTokensRequest.contents: contents is not specified'));
    return;
  }
  const total = geminiPromptTokens(body);
  ex.sendJson(200, { totalTokens: total, promptTokensDetails: [{ modality: 'TEXT', tokenCount: total }] });
};

export function generateContent(stream: boolean): Handler {
  return async (ex, body) => {
    if (!validate(ex, body)) return;
    const model = geminiRoute(ex.record.path)?.model ?? '';
    ex.record.model = model;
    ex.record.stream = stream;
    const generation = config(body);
    const n = typeof generation.candidateCount === 'number' ? generation.candidateCount : 1;
    const budget = isObject(generation.thinkingConfig) ? generation.thinkingConfig.thinkingBudget : undefined;
    const plan =
      typeof budget === 'number' && budget >= 0
        ? { ...ex.plan, reasoningTokens: Math.min(ex.plan.reasoningTokens, budget) }
        : ex.plan;
    const cap = typeof generation.maxOutputTokens === 'number' ? generation.maxOutputTokens : undefined;
    const size = outputSize(plan, cap);
    const prompt = geminiPromptTokens(body);
    const cached = Math.min(prompt, ex.plan.cachedTokens);
    const finish = size.truncated ? 'MAX_TOKENS' : 'STOP';
    const responseId = newId('');
    ex.record.id = responseId;
    const metadata = (textTokens: number, final: boolean): Json => {
      const candidates = textTokens * n;
      const thoughts = final ? size.reasoningTokens * n : 0;
      const out: Json = {
        promptTokenCount: prompt,
        candidatesTokenCount: candidates,
        totalTokenCount: prompt + candidates + thoughts,
        promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt }],
      };
      if (cached > 0) out.cachedContentTokenCount = cached;
      if (thoughts > 0) out.thoughtsTokenCount = thoughts;
      return out;
    };
    const record = () => {
      ex.record.usage = {
        input_tokens: prompt - cached,
        cached_tokens: cached,
        cache_write_tokens: 0,
        output_tokens: (size.textTokens + size.reasoningTokens) * n,
        reasoning_tokens: size.reasoningTokens * n,
      };
    };
    const response = (text: string, finishReason: string | undefined, usage: Json): Json => ({
      candidates: Array.from({ length: n }, (_, index) => ({
        content: { parts: [{ text }], role: 'model' },
        ...(finishReason ? { finishReason } : {}),
        index,
      })),
      usageMetadata: usage,
      modelVersion: model,
      responseId,
    });

    if (!stream) {
      record();
      ex.record.outputTokensSent = size.textTokens * n;
      ex.sendJson(200, response(generatedText(size.textTokens), finish, metadata(size.textTokens, true)));
      return;
    }
    const event = (json: Json) => `data: ${JSON.stringify(json)}\r\n\r\n`;
    ex.startSse();
    let sent = 0;
    const chunks = textChunks(size.textTokens, ex.plan.chunks);
    const last = chunks.length - 1;
    // The last content chunk carries finishReason and the final usage, as Gemini's does.
    const ok = await ex.streamContent(
      last > 0 ? chunks.slice(0, last) : [],
      (chunk) => {
        sent += chunk.tokens;
        return event(response(chunk.text, undefined, metadata(sent, false)));
      },
      n,
    );
    if (!ok) return;
    record();
    const final = chunks[last];
    const closing = event(response(final?.text ?? '', finish, metadata(size.textTokens, true)));
    if (!(await ex.write(closing, (final?.tokens ?? 0) * n))) return;
    ex.end();
  };
}
