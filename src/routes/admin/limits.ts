/**
 * GET /admin/limits: every rate and concurrency limit (config `limits:` and the trial's per-visitor
 * `anonymous.limits`) with its current use. A "*" limit has one instance per value: name the
 * caller with ?key=&user=&team=&tag=&model= to see that caller's instances (instances are not
 * listed otherwise: one per user would be unbounded).
 */
import { z } from 'zod';
import { matchScope, type RequestAttributes } from '../../budget/scopes.js';
import type { RuntimeConfig, RuntimeLimit } from '../../config/runtime.js';
import { STREAMS_SUFFIX } from '../../limits/scopes.js';
import type { LimitSpec, LimitUse } from '../../limits/types.js';
import { parseQuery } from './shared/problems.js';
import { type AdminRoute, mountRoute } from './shared/route.js';
import type { AdminServices } from './shared/services.js';

const limitsQuery = z.object({
  key: z.string().optional().describe('Key id, for "*" limits on key.'),
  user: z.string().optional().describe('User (trial visitors: anon:<id>), for "*" limits on user.'),
  team: z.string().optional(),
  tag: z.string().optional(),
  model: z.string().optional(),
});

const useJson = z.object({
  instance: z.string(),
  requests: z.number().int().describe('Requests counted in the last 60 s (1 s buckets).'),
  tokens: z
    .number()
    .int()
    .describe('Tokens counted in the last 60 s: reserved at the estimate, settled to actual.'),
  in_flight: z.number().int(),
  streams_in_flight: z.number().int().nullable(),
  reset_requests_ms: z.number().int(),
  reset_tokens_ms: z.number().int(),
});

const limitJson = z.object({
  id: z.string(),
  scope: z.unknown(),
  source: z.enum(['config', 'anonymous']),
  requests_per_minute: z.number().int().nullable(),
  tokens_per_minute: z.number().int().nullable(),
  concurrent_requests: z.number().int().nullable(),
  concurrent_streams: z.number().int().nullable(),
  instances: z.array(useJson),
});

const limitsAnswer = z.object({ limits: z.array(limitJson) });

function isTemplate(limit: RuntimeLimit): boolean {
  return limit.scope !== 'global' && Object.values(limit.scope).includes('*');
}

function specOf(limit: RuntimeLimit, instance: string): LimitSpec {
  return {
    limitId: limit.id,
    instance,
    requestsPerMinute: limit.requestsPerMinute,
    tokensPerMinute: limit.tokensPerMinute,
    concurrentRequests: limit.concurrentRequests,
  };
}

function all(cfg: RuntimeConfig): Array<{ limit: RuntimeLimit; source: 'config' | 'anonymous' }> {
  const out: Array<{ limit: RuntimeLimit; source: 'config' | 'anonymous' }> = cfg.limits.list.map(
    (limit) => ({
      limit,
      source: 'config',
    }),
  );
  if (cfg.limits.anonymous) out.push({ limit: cfg.limits.anonymous, source: 'anonymous' });
  return out;
}

export const listLimits: AdminRoute<Pick<AdminServices, 'config' | 'store' | 'clock'>> = {
  doc: {
    method: 'get',
    path: '/admin/limits',
    summary:
      'Every rate and concurrency limit with its current use; "*" limits show the instances of the caller named in the query.',
    query: limitsQuery,
    response: limitsAnswer,
    errors: { 400: 'A query parameter is malformed (names it).' },
  },
  register(admin, { config, store, clock }) {
    mountRoute(admin, listLimits.doc, async (c) => {
      const query = parseQuery(limitsQuery, c);
      const cfg = config();
      const now = clock();
      const model = query.model ? cfg.models.get(query.model) : undefined;
      const attrs: RequestAttributes = {
        keyId: query.key ?? '',
        user: query.user,
        team: query.team,
        tags: query.tag ? [query.tag] : [],
        model: query.model ?? '',
        provider: model?.provider.name ?? '',
      };
      const rows = all(cfg).map(({ limit, source }) => ({
        limit,
        source,
        instances: isTemplate(limit) ? matchScope(limit.id, limit.scope, attrs) : [limit.id],
      }));
      const specs: LimitSpec[] = rows.flatMap(({ limit, instances }) =>
        instances.flatMap((i) => [specOf(limit, i), specOf(limit, i + STREAMS_SUFFIX)]),
      );
      const uses = await store.limitUses(specs, now);
      let at = 0;
      const next = (): LimitUse => uses[at++]!;
      return c.json({
        limits: rows.map(({ limit, source, instances }) => ({
          id: limit.id,
          scope: limit.scope,
          source,
          requests_per_minute: limit.requestsPerMinute || null,
          tokens_per_minute: limit.tokensPerMinute || null,
          concurrent_requests: limit.concurrentRequests || null,
          concurrent_streams: limit.concurrentStreams || null,
          instances: instances.map((instance) => {
            const use = next();
            const streams = next();
            return {
              instance,
              requests: use.requests,
              tokens: use.tokens,
              in_flight: use.inFlight,
              streams_in_flight: limit.concurrentStreams > 0 ? streams.inFlight : null,
              reset_requests_ms: use.resetRequestsMs,
              reset_tokens_ms: use.resetTokensMs,
            };
          }),
        })),
      });
    });
  },
};
