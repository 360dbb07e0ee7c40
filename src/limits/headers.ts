/**
 * OpenAI's x-ratelimit-* response headers for the tightest limit of each kind (DESIGN §2 Errors):
 * `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`. "Reset" is when the next of what is
 * counted leaves the sliding window (src/limits/decision.ts), written the way OpenAI writes it
 * ("1s", "6m0s", "20ms").
 */
import type { LimitView } from '../budget/types.js';

export function formatReset(ms: number): string {
  const value = Math.max(0, Math.ceil(ms));
  if (value < 1000) return `${value}ms`;
  const seconds = Math.ceil(value / 1000);
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

type Kind = 'requests' | 'tokens';

function tightest(
  views: readonly LimitView[],
  kind: Kind,
): { limit: number; remaining: number; resetMs: number } | undefined {
  let best: { limit: number; remaining: number; resetMs: number; ratio: number } | undefined;
  for (const { spec, use } of views) {
    const limit = kind === 'requests' ? spec.requestsPerMinute : spec.tokensPerMinute;
    if (limit <= 0) continue;
    const remaining = Math.max(0, limit - (kind === 'requests' ? use.requests : use.tokens));
    const ratio = remaining / limit;
    if (!best || ratio < best.ratio || (ratio === best.ratio && remaining < best.remaining))
      best = {
        limit,
        remaining,
        ratio,
        resetMs: kind === 'requests' ? use.resetRequestsMs : use.resetTokensMs,
      };
  }
  return best;
}

/** The headers, or none when the request falls under no limit of that kind. */
export function rateLimitHeaders(views: readonly LimitView[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!views || views.length === 0) return out;
  for (const kind of ['requests', 'tokens'] as const) {
    const t = tightest(views, kind);
    if (!t) continue;
    out[`x-ratelimit-limit-${kind}`] = String(t.limit);
    out[`x-ratelimit-remaining-${kind}`] = String(t.remaining);
    out[`x-ratelimit-reset-${kind}`] = formatReset(t.resetMs);
  }
  return out;
}
