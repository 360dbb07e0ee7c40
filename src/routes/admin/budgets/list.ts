/** GET /admin/budgets: every budget (config file and API-made) with its balances. */
import { budgetEntries, budgetJson } from '../../../admin/budget-entries.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { budgetListAnswer } from './schemas.js';

export const listBudgets: AdminRoute<Pick<AdminServices, 'registry' | 'store' | 'clock'>> = {
  doc: {
    method: 'get',
    path: '/admin/budgets',
    summary: 'Every budget (config file and API-made) with its balances in the current period.',
    response: budgetListAnswer,
  },
  register(admin, { registry, store, clock }) {
    mountRoute(admin, listBudgets.doc, async (c) => {
      await registry.refresh();
      const now = clock();
      const entries = budgetEntries(registry.merged());
      return c.json({ budgets: await Promise.all(entries.map((entry) => budgetJson(entry, store, now))) });
    });
  },
};
