/**
 * POST /admin/budgets: a new budget, written to the metadata store so every instance applies it
 * within its refresh interval (this one at once).
 */
import { ANONYMOUS_BUDGET_ID } from '../../../config/compile.js';
import { GatewayError } from '../../../errors.js';
import { readJson } from '../shared/body.js';
import { validate } from '../shared/problems.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { budgetNow, checkBudget, isFileBudget, readOnlyBudget, writtenEntry } from './lookup.js';
import { budgetAnswer, createBudgetBody } from './schemas.js';

export const createBudget: AdminRoute<Pick<AdminServices, 'registry' | 'meta' | 'store' | 'clock'>> = {
  doc: {
    method: 'post',
    path: '/admin/budgets',
    summary: 'Creates a budget, stored so every instance applies it. Answers 201 with the budget.',
    body: createBudgetBody,
    response: budgetAnswer,
    status: 201,
    errors: {
      400: 'The body has problems (all listed by field); nothing was written.',
      409: 'The id is taken.',
    },
  },
  register(admin, services) {
    const { registry, meta, clock } = services;
    mountRoute(admin, createBudget.doc, async (c) => {
      const budget = validate(createBudgetBody, await readJson(c));
      checkBudget(registry, budget);
      await registry.refresh();
      if (isFileBudget(registry, budget.id)) readOnlyBudget(budget.id);
      if (budget.id === ANONYMOUS_BUDGET_ID)
        throw new GatewayError(
          'conflict',
          `Budget id "${ANONYMOUS_BUDGET_ID}" is reserved for the anonymous trial.`,
          { param: 'id' },
        );
      const now = new Date(clock()).toISOString();
      const version = await meta.put(
        'budgets',
        budget.id,
        { budget, created_at: now, updated_at: now },
        'create',
      );
      if (version === null)
        throw new GatewayError(
          'conflict',
          `Budget "${budget.id}" already exists; PUT /admin/budgets/${budget.id} changes it.`,
          { param: 'id' },
        );
      await registry.refresh();
      return c.json(await budgetNow(services, budget.id, writtenEntry(budget, now, now)), 201);
    });
  },
};
