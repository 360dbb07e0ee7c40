/** GET /admin/budgets/{id}: one budget with its balances. */
import { idParam } from '../shared/body.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { budgetNow } from './lookup.js';
import { budgetAnswer, budgetIdParam } from './schemas.js';

export const getBudget: AdminRoute<Pick<AdminServices, 'registry' | 'store' | 'clock'>> = {
  doc: {
    method: 'get',
    path: '/admin/budgets/{id}',
    summary: 'One budget with its balances (template budgets: instance count and top spenders).',
    params: budgetIdParam,
    response: budgetAnswer,
    errors: { 404: 'No such budget.' },
  },
  register(admin, services) {
    mountRoute(admin, getBudget.doc, async (c) => {
      await services.registry.refresh();
      return c.json(await budgetNow(services, idParam(c)));
    });
  },
};
