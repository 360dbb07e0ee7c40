/** DELETE /admin/budgets/{id}: removes an API-made budget; its counters stay until they expire. */
import { idParam } from '../shared/body.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { budgetNotFound, isFileBudget, readOnlyBudget } from './lookup.js';
import { budgetIdParam, deletedAnswer } from './schemas.js';

export const deleteBudget: AdminRoute<Pick<AdminServices, 'registry' | 'meta'>> = {
  doc: {
    method: 'delete',
    path: '/admin/budgets/{id}',
    summary: 'Deletes an API-made budget. Its counters stay until they expire.',
    params: budgetIdParam,
    response: deletedAnswer,
    errors: { 404: 'No such budget.', 409: 'The budget is defined in the config file (read-only here).' },
  },
  register(admin, { registry, meta }) {
    mountRoute(admin, deleteBudget.doc, async (c) => {
      const id = idParam(c);
      // The store decides: a stored API budget goes (also one a file budget of the same id hides).
      if ((await meta.remove('budgets', id)) === null) {
        await registry.refresh();
        return isFileBudget(registry, id) ? readOnlyBudget(id) : budgetNotFound(id);
      }
      await registry.refresh();
      return c.json({ id, deleted: true as const });
    });
  },
};
