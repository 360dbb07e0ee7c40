/**
 * POST /admin/budgets/{id}/topup: more limit, for good on a prepaid (period none) budget, for the
 * current period otherwise. Works on config file budgets too (balances, not definitions).
 */
import { lineFor } from '../../../admin/budget-balances.js';
import { budgetJson } from '../../../admin/budget-entries.js';
import { usdToNano } from '../../../money.js';
import { idParam, readJson } from '../shared/body.js';
import { validate } from '../shared/problems.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { entryFor, targetInstances } from './lookup.js';
import { budgetAnswer, budgetIdParam, topupBody } from './schemas.js';

export const topUpBudget: AdminRoute<Pick<AdminServices, 'registry' | 'store' | 'clock'>> = {
  doc: {
    method: 'post',
    path: '/admin/budgets/{id}/topup',
    summary:
      "Adds to a budget's limit: for good on prepaid (period none) budgets, for the current period otherwise.",
    params: budgetIdParam,
    body: topupBody,
    response: budgetAnswer,
    errors: { 400: 'The body has problems.', 404: 'No such budget.' },
  },
  register(admin, { registry, store, clock }) {
    mountRoute(admin, topUpBudget.doc, async (c) => {
      const entry = await entryFor(registry, idParam(c));
      const body = validate(topupBody, await readJson(c));
      const now = clock();
      const [instance] = await targetInstances(store, entry, body.instance, now, 'topup');
      if (instance !== undefined)
        await store.topUp(lineFor(entry.runtime, instance, now).spec, usdToNano(body.amount_usd));
      return c.json(await budgetJson(entry, store, now));
    });
  },
};
