/**
 * POST /admin/store/recover ([hardening] 14.1; docs/operations.md "Redis came back empty"): the
 * operator's answer to a store reset. Writes a new deployment epoch and clears the reset marker,
 * so every instance serves again (each adopts the new epoch on its next store call). The counters
 * start from what the store holds now (nothing, after an empty restart): spend, top-ups,
 * rollover, reservations, once-per-period alert claims and the API-made budgets and keys of
 * before the reset are gone, and the API-made ones must be made again.
 */
import { z } from 'zod';
import { type AdminRoute, commonErrors, mountRoute } from './shared/route.js';
import type { AdminServices } from './shared/services.js';

const recoverAnswer = z.object({
  status: z
    .enum(['recovered', 'not_reset', 'not_needed'])
    .describe(
      'recovered: a new epoch was written; not_reset: no reset was detected (nothing changed); not_needed: the SQLite store has no epoch.',
    ),
  epoch: z.string().optional().describe('The deployment epoch now in force (Redis).'),
  reset: z
    .object({ since_ms: z.number(), reason: z.string() })
    .nullable()
    .describe('What this instance had detected before the call, when it had.'),
  lost: z.array(z.string()).describe('What a reset lost; re-apply the API-made budgets and keys.'),
});

const LOST = [
  'spent, reserved, rollover and top-up counters of every budget line',
  'reservations in flight at the reset (their settles are logged as lost, not counted)',
  'rate and concurrency limit windows',
  'once-per-period alert claims (an alert may fire once more this period)',
  'budgets and keys made through the admin API (re-create them)',
  'usage history kept in Redis (history.store: same)',
];

export const recoverStore: AdminRoute<Pick<AdminServices, 'store' | 'registry'>> = {
  doc: {
    method: 'post',
    path: '/admin/store/recover',
    summary:
      'After a store reset (Redis came back empty; every request answers 503 store_reset): write a new deployment epoch so the gateway serves again. What the reset lost stays lost.',
    response: recoverAnswer,
    errors: { 401: commonErrors[401], 503: 'The store is unreachable; nothing was changed.' },
  },
  register(admin, { store, registry }) {
    mountRoute(admin, recoverStore.doc, async (c) => {
      const before = store.resetState();
      const result = await store.recover();
      // The API-made budgets and keys now read from the recovered store (none after an empty restart).
      if (result.status === 'recovered') await registry.refresh();
      return c.json({
        status: result.status,
        ...(result.epoch ? { epoch: result.epoch } : {}),
        reset: before ? { since_ms: before.sinceMs, reason: before.reason } : null,
        lost: result.status === 'recovered' ? LOST : [],
      });
    });
  },
};
