/**
 * POST /admin/budgets/{id}/reset: the current period's spend back to zero, its top-ups and
 * rollover dropped. Acts on balances, not definitions, so config file budgets can be reset too.
 */
import { lineFor } from '../../../admin/budget-balances.js';
import { budgetJson } from '../../../admin/budget-entries.js';
import { idParam, readJson } from '../shared/body.js';
import { validate } from '../shared/problems.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { entryFor, targetInstances } from './lookup.js';
import { budgetAnswer, budgetIdParam, resetBody } from './schemas.js';

/** Resets run this many store calls at a time (one per template instance). */
const RESET_CONCURRENCY = 32;

export const resetBudget: AdminRoute<Pick<AdminServices, 'registry' | 'store' | 'clock'>> = {
  doc: {
    method: 'post',
    path: '/admin/budgets/{id}/reset',
    summary:
      "Sets the current period's spend to zero and drops its top-ups and rollover (requests in flight keep their reservations).",
    params: budgetIdParam,
    body: resetBody,
    response: budgetAnswer,
    errors: { 400: 'The body has problems.', 404: 'No such budget.' },
  },
  register(admin, { registry, store, clock }) {
    mountRoute(admin, resetBudget.doc, async (c) => {
      const entry = await entryFor(registry, idParam(c));
      const body = validate(resetBody, await readJson(c, { optional: true }));
      const now = clock();
      const instances = await targetInstances(store, entry, body.instance, now, 'reset');
      for (let i = 0; i < instances.length; i += RESET_CONCURRENCY) {
        await Promise.all(
          instances
            .slice(i, i + RESET_CONCURRENCY)
            .map((instance) => store.reset(lineFor(entry.runtime, instance, now).spec)),
        );
      }
      return c.json(await budgetJson(entry, store, now));
    });
  },
};
