/** PUT /admin/budgets/{id}: a new definition for an API-made budget; its balances carry on. */
import type { BudgetConfig } from '../../../config/schema.js';
import { idParam, readJson } from '../shared/body.js';
import { validate } from '../shared/problems.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import {
  budgetNotFound,
  budgetNow,
  checkBudget,
  isFileBudget,
  readOnlyBudget,
  writtenEntry,
} from './lookup.js';
import { budgetAnswer, budgetIdParam, updateBudgetBody } from './schemas.js';

export const replaceBudget: AdminRoute<Pick<AdminServices, 'registry' | 'meta' | 'store' | 'clock'>> = {
  doc: {
    method: 'put',
    path: '/admin/budgets/{id}',
    summary: "Replaces an API-made budget's definition; balances carry on.",
    params: budgetIdParam,
    body: updateBudgetBody,
    response: budgetAnswer,
    errors: {
      400: 'The body has problems (all listed by field); nothing was written.',
      404: 'No such budget.',
      409: 'The budget is defined in the config file (read-only here).',
    },
  },
  register(admin, services) {
    const { registry, meta, clock } = services;
    mountRoute(admin, replaceBudget.doc, async (c) => {
      const id = idParam(c);
      await registry.refresh();
      if (isFileBudget(registry, id)) readOnlyBudget(id);
      const existing = registry.merged().apiBudgets.get(id) ?? budgetNotFound(id);
      const body = validate(updateBudgetBody, await readJson(c));
      const budget: BudgetConfig = { ...body, id };
      checkBudget(
        registry,
        budget,
        body.id !== undefined && body.id !== id
          ? [{ field: 'id', message: `must match the path (${id})` }]
          : [],
      );
      const now = new Date(clock()).toISOString();
      const record = { budget, created_at: existing.created_at, updated_at: now };
      if ((await meta.put('budgets', id, record, 'replace')) === null) budgetNotFound(id);
      await registry.refresh();
      return c.json(await budgetNow(services, id, writtenEntry(budget, existing.created_at, now)));
    });
  },
};
