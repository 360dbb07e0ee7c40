/**
 * What one request should do, from the server options overridden by `x-mock-*` request headers.
 * A malformed header is an error (400) rather than silently ignored, so a test cannot think it
 * exercised a failure mode it did not.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface FailurePlan {
  /** Answer with this HTTP status and the provider's error body. */
  status?: number;
  /** Stream this many content chunks, then destroy the socket. */
  brokenAfterChunks?: number;
  /** Extra wait before the response headers. */
  slowFirstByteMs?: number;
  /** Never answer. */
  hang?: boolean;
  /** A couple of valid chunks, then malformed SSE, then end. */
  garbage?: boolean;
}

export interface RequestPlan {
  latencyMs: number;
  outputTokens: number;
  chunks: number | undefined;
  chunkDelayMs: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /**
   * `x-mock-first-chunk-usage: N`: OpenAI chat / completions streams also put a usage object in the
   * FIRST chunk, reporting N completion tokens (a provider that reports early, or a proxy in front
   * of one): the "usage trusted too early" case. The last chunk's usage stays as it is.
   */
  firstChunkUsage: number | undefined;
  /** `x-mock-tool-calls`: answer with this many function calls (see tool-calls.ts); 0 = text. */
  toolCalls: number;
  /** `x-mock-seed`: deterministic ids and `created` (see AnswerIds). */
  seed: string | undefined;
  fail: FailurePlan;
}

export interface PlanDefaults {
  latencyMs: number;
  outputTokens: number;
  chunkCount: number | undefined;
}

export class PlanError extends Error {}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function nonNegativeInt(value: string, what: string): number {
  const n = Number(value.trim());
  if (!Number.isInteger(n) || n < 0)
    throw new PlanError(`${what}: expected a non-negative integer, got '${value}'`);
  return n;
}

function intHeader(headers: IncomingHttpHeaders, name: string, fallback: number): number {
  const v = header(headers, name);
  return v === undefined ? fallback : nonNegativeInt(v, name);
}

function optionalIntHeader(headers: IncomingHttpHeaders, name: string): number | undefined {
  const v = header(headers, name);
  return v === undefined ? undefined : nonNegativeInt(v, name);
}

/** Parses `x-mock-fail`: comma-separated modes, e.g. `slow-first-byte:200,broken-stream:3`. */
export function parseFailure(value: string | undefined): FailurePlan {
  const fail: FailurePlan = {};
  if (value === undefined || value.trim() === '') return fail;
  for (const raw of value.split(',')) {
    const spec = raw.trim().toLowerCase();
    const colon = spec.indexOf(':');
    const mode = colon < 0 ? spec : spec.slice(0, colon);
    const arg = colon < 0 ? undefined : spec.slice(colon + 1);
    const need = (): number => {
      if (arg === undefined) throw new PlanError(`x-mock-fail: '${mode}' needs a value, e.g. '${mode}:3'`);
      return nonNegativeInt(arg, `x-mock-fail ${mode}`);
    };
    switch (mode) {
      case 'status': {
        const status = need();
        if (status < 400 || status > 599)
          throw new PlanError(`x-mock-fail status: expected 400-599, got ${status}`);
        fail.status = status;
        break;
      }
      case 'broken-stream':
        fail.brokenAfterChunks = need();
        break;
      case 'slow-first-byte':
        fail.slowFirstByteMs = need();
        break;
      case 'hang':
        fail.hang = true;
        break;
      case 'garbage-sse':
        fail.garbage = true;
        break;
      default:
        throw new PlanError(
          `x-mock-fail: unknown mode '${mode}' (status:CODE, broken-stream:N, slow-first-byte:MS, hang, garbage-sse)`,
        );
    }
  }
  return fail;
}

function seedHeader(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[A-Za-z0-9]{1,32}$/.test(value))
    throw new PlanError(`x-mock-seed: expected 1-32 letters or digits, got '${value}'`);
  return value;
}

export function planRequest(headers: IncomingHttpHeaders, defaults: PlanDefaults): RequestPlan {
  const chunksHeader = header(headers, 'x-mock-chunks');
  const chunks =
    chunksHeader === undefined ? defaults.chunkCount : nonNegativeInt(chunksHeader, 'x-mock-chunks');
  return {
    latencyMs: intHeader(headers, 'x-mock-latency-ms', defaults.latencyMs),
    outputTokens: intHeader(headers, 'x-mock-output-tokens', defaults.outputTokens),
    chunks: chunks === 0 ? undefined : chunks,
    chunkDelayMs: intHeader(headers, 'x-mock-chunk-delay-ms', 0),
    cachedTokens: intHeader(headers, 'x-mock-cached-tokens', 0),
    cacheWriteTokens: intHeader(headers, 'x-mock-cache-write-tokens', 0),
    reasoningTokens: intHeader(headers, 'x-mock-reasoning-tokens', 0),
    firstChunkUsage: optionalIntHeader(headers, 'x-mock-first-chunk-usage'),
    toolCalls: intHeader(headers, 'x-mock-tool-calls', 0),
    seed: seedHeader(header(headers, 'x-mock-seed')),
    fail: parseFailure(header(headers, 'x-mock-fail')),
  };
}

export interface OutputSize {
  /** Tokens of visible text. */
  textTokens: number;
  /** Reasoning tokens reported on top of the text (they count against the cap, as at OpenAI). */
  reasoningTokens: number;
  /** The cap cut the text short (finish_reason 'length', stop_reason 'max_tokens'). */
  truncated: boolean;
}

/** How much to generate under the request's output cap (undefined: no cap). */
export function outputSize(plan: RequestPlan, cap: number | undefined): OutputSize {
  if (cap === undefined) {
    return { textTokens: plan.outputTokens, reasoningTokens: plan.reasoningTokens, truncated: false };
  }
  const reasoningTokens = Math.min(plan.reasoningTokens, cap);
  const textTokens = Math.min(plan.outputTokens, cap - reasoningTokens);
  return { textTokens, reasoningTokens, truncated: textTokens < plan.outputTokens };
}
