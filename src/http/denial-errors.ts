/**
 * The one place a budget denial becomes what the client reads: message, status, `retry-after` and
 * `x-should-retry` (DESIGN §2 Errors). The engine returns denials as values (budget/denials.ts).
 */
import type { Denial } from '../budget/denials.js';
import type { LimitView } from '../budget/types.js';
import type { RuntimeConfig } from '../config/runtime.js';
import { GatewayError } from '../errors.js';
import { rateLimitHeaders } from '../limits/headers.js';
import { formatUsd } from '../money.js';

type DenialConfig = Pick<RuntimeConfig, 'anonymous'> & {
  limits?: Pick<RuntimeConfig['limits'], 'exhaustedStatus'>;
};

export function denialError(
  denial: Denial,
  config: DenialConfig,
  limits?: readonly LimitView[],
): GatewayError {
  switch (denial.kind) {
    case 'rate_limited':
      return rateLimited(denial, limits);
    case 'budget_exceeded': {
      const when =
        denial.resetsAtMs === null
          ? 'It is prepaid and does not reset: ask an administrator for a top-up.'
          : `It resets at ${new Date(denial.resetsAtMs).toISOString()}.`;
      const message = denial.anonymous
        ? config.anonymous.upgradeMessage
        : `Budget "${denial.budgetId}" is exhausted: $${formatUsd(denial.remainingNano)} left, this request ` +
          `needs at least $${formatUsd(denial.minimumNano)}. ${when}`;
      // The official SDKs honour x-should-retry: retrying before the reset cannot succeed.
      const headers: Record<string, string> = { 'x-should-retry': 'false' };
      if (denial.resetsAtMs !== null) {
        headers['retry-after'] = String(Math.max(1, Math.ceil((denial.resetsAtMs - denial.nowMs) / 1000)));
      }
      // budgeting.exhausted_status: 402 for clients that retry every 429 whatever the headers say.
      const status = config.limits?.exhaustedStatus ?? 429;
      return new GatewayError('budget_exceeded', message, { headers, status });
    }
    case 'budget_busy':
      // x-should-retry: the official SDKs retry (with their back-off) after retry-after.
      return new GatewayError(
        'budget_busy',
        `Budget "${denial.budgetId}" is held by requests in flight; this request waited ` +
          `${Math.round(denial.waitedMs)} ms for them to settle. Retry shortly.`,
        { headers: { 'x-should-retry': 'true', 'retry-after': '1' } },
      );
    case 'forbidden_model': {
      const message = denial.anonymous
        ? `The model ${denial.model} is not allowed for trial users` +
          (denial.allowed?.length ? `; the trial offers ${denial.allowed.join(', ')}.` : '.')
        : `This key may not use the model ${denial.model}.`;
      return new GatewayError('forbidden_model', message, { param: 'model' });
    }
    case 'store_unavailable':
      return new GatewayError(
        'store_unavailable',
        denial.operation === 'reserve'
          ? 'The budget store is unavailable, so spend cannot be checked; the request was not sent upstream. Retry shortly.'
          : 'The budget store is unavailable; balances cannot be read now.',
      );
    case 'store_reset':
      return new GatewayError('store_reset', STORE_RESET_MESSAGE);
  }
}

/** No secret and no store detail: the operator finds those in the log and /readyz. */
export const STORE_RESET_MESSAGE =
  'The budget store lost its data (it came back empty), so spend cannot be checked; the request was not sent upstream. The gateway refuses requests until an operator recovers the store.';

const LIMIT_WHAT = {
  requests: 'requests per minute',
  tokens: 'tokens per minute',
  concurrent: 'requests in flight',
};

/** 429 rate_limit_exceeded: retrying after retry-after may pass, so the SDKs are told to retry. */
function rateLimited(
  denial: Extract<Denial, { kind: 'rate_limited' }>,
  limits?: readonly LimitView[],
): GatewayError {
  const { limit, limitKind } = denial;
  const streams = limit.instance.endsWith('|streams');
  const value =
    limitKind === 'requests'
      ? limit.requestsPerMinute
      : limitKind === 'tokens'
        ? limit.tokensPerMinute
        : limit.concurrentRequests;
  const what = streams ? 'streams in flight' : LIMIT_WHAT[limitKind];
  const seconds = Math.max(1, Math.ceil(denial.retryAfterMs / 1000));
  const message = denial.tooLarge
    ? `Rate limit "${limit.limitId}" allows ${value} ${what}; this request alone needs more. Lower max_tokens or shorten the prompt.`
    : `Rate limit "${limit.limitId}" reached: ${value} ${what}. Retry in ${seconds} s.`;
  const headers: Record<string, string> = {
    ...rateLimitHeaders(limits),
    'retry-after': String(seconds),
    'retry-after-ms': String(Math.max(1, Math.ceil(denial.retryAfterMs))),
    'x-should-retry': denial.tooLarge ? 'false' : 'true',
  };
  return new GatewayError('rate_limit_exceeded', message, { headers });
}
