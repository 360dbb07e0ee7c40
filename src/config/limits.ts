/**
 * [limits] The config's rate and concurrency limits, the trial's hardening (total, per-visitor
 * limits, trusted proxies, signed visitor ids) and the abuse guards, compiled in one block so the
 * rest of compile.ts stays as it was.
 */
import { isIP } from 'node:net';
import { compileBudget, isValidTimeZone } from './budgets.js';
import type { RuntimeBudget, RuntimeLimit, RuntimeLimits, Scope } from './runtime.js';
import type { ConfigFile, LimitConfig } from './schema.js';

export const ANONYMOUS_TOTAL_BUDGET_ID = 'anonymous-total';
export const ANONYMOUS_LIMIT_ID = 'anonymous-visitor';
/** An admin token shorter than this can be guessed online; start-up refuses it. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

type LimitFields = Omit<LimitConfig, 'id' | 'scope'>;

function compileLimit(id: string, scope: Scope, fields: LimitFields): RuntimeLimit {
  return {
    id,
    scope,
    requestsPerMinute: fields.requests_per_minute ?? 0,
    tokensPerMinute: fields.tokens_per_minute ?? 0,
    concurrentRequests: fields.concurrent_requests ?? 0,
    concurrentStreams: fields.concurrent_streams ?? 0,
  };
}

function limitsSet(fields: LimitFields): boolean {
  return (
    fields.requests_per_minute !== undefined ||
    fields.tokens_per_minute !== undefined ||
    fields.concurrent_requests !== undefined ||
    fields.concurrent_streams !== undefined
  );
}

/** A CIDR ("10.0.0.0/8", "2001:db8::/32") or a single address; null when malformed. */
export function parseCidr(text: string): { address: string; prefix: number; family: 4 | 6 } | null {
  const [address = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const family = isIP(address);
  if (family !== 4 && family !== 6) return null;
  const max = family === 4 ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: max, family };
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  return prefix <= max ? { address, prefix, family } : null;
}

export function compileLimits(file: ConfigFile, anonymousKeyId: string, problems: string[]): RuntimeLimits {
  const ids = new Set<string>();
  const list = file.limits.map((limit, i) => {
    const at = `limits[${i}]`;
    if (ids.has(limit.id)) problems.push(`${at}.id: duplicate limit id ${limit.id}`);
    ids.add(limit.id);
    if (!limitsSet(limit))
      problems.push(
        `${at}: expected at least one of requests_per_minute, tokens_per_minute, concurrent_requests, concurrent_streams`,
      );
    return compileLimit(limit.id, limit.scope as Scope, limit);
  });

  const anon = file.anonymous;
  anon.trusted_proxies.forEach((cidr, i) => {
    if (!parseCidr(cidr))
      problems.push(
        `anonymous.trusted_proxies[${i}]: expected an IP address or CIDR, got ${JSON.stringify(cidr)}`,
      );
  });
  let trialTotal: RuntimeBudget | undefined;
  if (anon.total) {
    if (!isValidTimeZone(anon.total.timezone))
      problems.push(`anonymous.total.timezone: unknown time zone ${anon.total.timezone}`);
    trialTotal = compileBudget(
      {
        id: ANONYMOUS_TOTAL_BUDGET_ID,
        scope: { key: anonymousKeyId },
        limit_usd: anon.total.limit_usd,
        period: anon.total.period,
        timezone: anon.total.timezone,
        thresholds: [],
      },
      'anonymous',
    );
  }
  if (anon.visitor_secret !== undefined && anon.visitor_secret.length < 16)
    problems.push('anonymous.visitor_secret: expected at least 16 characters (it signs trial visitor ids)');

  const token = file.admin.token;
  if (token !== '' && token.length < MIN_ADMIN_TOKEN_LENGTH)
    problems.push(
      `admin.token: expected at least ${MIN_ADMIN_TOKEN_LENGTH} characters (it has ${token.length}); a short token can be guessed online. Generate one with: openssl rand -hex 32`,
    );

  return {
    list,
    anonymous:
      anon.limits && limitsSet(anon.limits)
        ? compileLimit(ANONYMOUS_LIMIT_ID, { key: anonymousKeyId, user: '*' }, anon.limits)
        : undefined,
    trialTotal,
    trustedProxies: anon.trusted_proxies.map((c) => c.trim()),
    visitorSecret: anon.visitor_secret || undefined,
    exhaustedStatus: file.budgeting.exhausted_status,
    streamReadDeadlineMs: file.budgeting.stream_read_deadline_ms,
    adminFailedAttemptsPerMinute: file.admin.max_failed_attempts_per_minute,
  };
}
