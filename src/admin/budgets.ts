/**
 * /admin/budgets: list, create, read, replace, delete, reset, top up.
 *
 * Definitions made here go to the metadata store, so every instance applies them within its
 * refresh interval (this one at once). The config file's budgets are read-only here (409 on PUT
 * and DELETE). Reset and top-up act on balances, not definitions, so they work on both.
 * Each handler first refreshes the merged config (one version read), so a definition made on
 * another instance a moment ago is known here too.
 */
import type { Context, Hono } from 'hono';
import { isTemplate } from '../budget/snapshot.js';
import { ANONYMOUS_BUDGET_ID, compileBudget } from '../config/compile.js';
import { budgetReferenceProblems } from '../config/registry.js';
import type { BudgetConfig } from '../config/schema.js';
import { usdToNano } from '../money.js';
import { instanceValues, lineFor } from './budget-balances.js';
import { type BudgetEntry, budgetEntries, budgetJson, findBudgetEntry } from './budget-entries.js';
import {
  budgetAnswer,
  budgetIdParam,
  budgetListAnswer,
  createBudgetBody,
  deletedAnswer,
  resetBody,
  topupBody,
  updateBudgetBody,
} from './budget-schemas.js';
import {
  AdminProblem,
  fail,
  handled,
  idParam,
  type Problem,
  problemsFromStrings,
  readJson,
  validate,
} from './http.js';
import { documentRoute } from './openapi-registry.js';
import { type AdminDeps, requireServices } from './router.js';

/** Resets run this many store calls at a time (one per template instance). */
const RESET_CONCURRENCY = 32;

documentRoute({
  method: 'get',
  path: '/admin/budgets',
  summary: 'Every budget (config file and API-made) with its balances in the current period.',
  response: budgetListAnswer,
});
documentRoute({
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
});
documentRoute({
  method: 'get',
  path: '/admin/budgets/{id}',
  summary: 'One budget with its balances (template budgets: instance count and top spenders).',
  params: budgetIdParam,
  response: budgetAnswer,
  errors: { 404: 'No such budget.' },
});
documentRoute({
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
});
documentRoute({
  method: 'delete',
  path: '/admin/budgets/{id}',
  summary: 'Deletes an API-made budget. Its counters stay until they expire.',
  params: budgetIdParam,
  response: deletedAnswer,
  errors: { 404: 'No such budget.', 409: 'The budget is defined in the config file (read-only here).' },
});
documentRoute({
  method: 'post',
  path: '/admin/budgets/{id}/reset',
  summary:
    "Sets the current period's spend to zero and drops its top-ups and rollover (requests in flight keep their reservations).",
  params: budgetIdParam,
  body: resetBody,
  response: budgetAnswer,
  errors: { 400: 'The body has problems.', 404: 'No such budget.' },
});
documentRoute({
  method: 'post',
  path: '/admin/budgets/{id}/topup',
  summary:
    "Adds to a budget's limit: for good on prepaid (period none) budgets, for the current period otherwise.",
  params: budgetIdParam,
  body: topupBody,
  response: budgetAnswer,
  errors: { 400: 'The body has problems.', 404: 'No such budget.' },
});

export function budgetRoutes(admin: Hono, deps: AdminDeps): void {
  const { registry, meta, store, clock } = requireServices(deps, 'budgets', 'registry', 'meta', 'store');

  const isFileBudget = (id: string) => registry.fileConfig().budgets.some((b) => b.id === id);
  const readOnly = (id: string) =>
    fail(
      'conflict',
      `Budget "${id}" is defined in the config file and is read-only through the API; edit the file and reload.`,
    );
  const notFound = (id: string): never => fail('not_found', `No budget "${id}".`, 'id');

  const problemsOf = (budget: BudgetConfig, extra: Problem[] = []): void => {
    const problems = [
      ...extra,
      ...problemsFromStrings(budgetReferenceProblems(budget, registry.fileConfig())),
    ];
    if (problems.length > 0) throw new AdminProblem(problems);
  };

  /** The budget as it stands now; after a write, from the refreshed view (or what was written). */
  const answer = async (id: string, written?: BudgetEntry) => {
    const entry = findBudgetEntry(registry.merged(), id) ?? written ?? notFound(id);
    return budgetJson(entry, store, clock());
  };

  const writtenEntry = (budget: BudgetConfig, createdAt: string, updatedAt: string): BudgetEntry => ({
    definition: budget,
    runtime: compileBudget(budget, 'api'),
    source: 'api',
    problems: [],
    createdAt,
    updatedAt,
  });

  admin.get(
    '/budgets',
    handled(async (c) => {
      await registry.refresh();
      const now = clock();
      const entries = budgetEntries(registry.merged());
      return c.json({ budgets: await Promise.all(entries.map((entry) => budgetJson(entry, store, now))) });
    }),
  );

  admin.post(
    '/budgets',
    handled(async (c) => {
      const budget = validate(createBudgetBody, await readJson(c));
      problemsOf(budget);
      await registry.refresh();
      if (isFileBudget(budget.id)) readOnly(budget.id);
      if (budget.id === ANONYMOUS_BUDGET_ID)
        fail('conflict', `Budget id "${ANONYMOUS_BUDGET_ID}" is reserved for the anonymous trial.`, 'id');
      const now = new Date(clock()).toISOString();
      const version = await meta.put(
        'budgets',
        budget.id,
        { budget, created_at: now, updated_at: now },
        'create',
      );
      if (version === null)
        fail(
          'conflict',
          `Budget "${budget.id}" already exists; PUT /admin/budgets/${budget.id} changes it.`,
          'id',
        );
      await registry.refresh();
      return c.json(await answer(budget.id, writtenEntry(budget, now, now)), 201);
    }),
  );

  admin.get(
    '/budgets/:id',
    handled(async (c) => {
      await registry.refresh();
      return c.json(await answer(idParam(c)));
    }),
  );

  admin.put(
    '/budgets/:id',
    handled(async (c) => {
      const id = idParam(c);
      await registry.refresh();
      if (isFileBudget(id)) readOnly(id);
      const existing = registry.merged().apiBudgets.get(id) ?? notFound(id);
      const body = validate(updateBudgetBody, await readJson(c));
      const budget: BudgetConfig = { ...body, id };
      problemsOf(
        budget,
        body.id !== undefined && body.id !== id
          ? [{ field: 'id', message: `must match the path (${id})` }]
          : [],
      );
      const now = new Date(clock()).toISOString();
      const record = { budget, created_at: existing.created_at, updated_at: now };
      if ((await meta.put('budgets', id, record, 'replace')) === null) notFound(id);
      await registry.refresh();
      return c.json(await answer(id, writtenEntry(budget, existing.created_at, now)));
    }),
  );

  admin.delete(
    '/budgets/:id',
    handled(async (c) => {
      const id = idParam(c);
      // The store decides: a stored API budget goes (also one a file budget of the same id hides).
      if ((await meta.remove('budgets', id)) === null) {
        await registry.refresh();
        return isFileBudget(id) ? readOnly(id) : notFound(id);
      }
      await registry.refresh();
      return c.json({ id, deleted: true as const });
    }),
  );

  admin.post(
    '/budgets/:id/reset',
    handled(async (c) => {
      const entry = await entryFor(c);
      const body = validate(resetBody, await readJson(c, { optional: true }));
      const now = clock();
      const instances = await targetInstances(entry, body.instance, now, 'reset');
      for (let i = 0; i < instances.length; i += RESET_CONCURRENCY) {
        await Promise.all(
          instances
            .slice(i, i + RESET_CONCURRENCY)
            .map((instance) => store.reset(lineFor(entry.runtime, instance, now).spec)),
        );
      }
      return c.json(await budgetJson(entry, store, now));
    }),
  );

  admin.post(
    '/budgets/:id/topup',
    handled(async (c) => {
      const entry = await entryFor(c);
      const body = validate(topupBody, await readJson(c));
      const now = clock();
      const [instance] = await targetInstances(entry, body.instance, now, 'topup');
      if (instance !== undefined)
        await store.topUp(lineFor(entry.runtime, instance, now).spec, usdToNano(body.amount_usd));
      return c.json(await budgetJson(entry, store, now));
    }),
  );

  async function entryFor(c: Context): Promise<BudgetEntry> {
    const id = idParam(c);
    await registry.refresh();
    return findBudgetEntry(registry.merged(), id) ?? notFound(id);
  }

  /** The instances a reset or top-up acts on; a template budget's instance must be one of its own. */
  async function targetInstances(
    entry: BudgetEntry,
    instance: string | undefined,
    nowMs: number,
    action: 'reset' | 'topup',
  ): Promise<string[]> {
    const budget = entry.runtime;
    if (!isTemplate(budget)) {
      if (instance !== undefined && instance !== budget.id)
        throw new AdminProblem([
          { field: 'instance', message: `budget "${budget.id}" has no instances; leave instance out` },
        ]);
      return [budget.id];
    }
    if (instance === undefined) {
      if (action === 'topup')
        throw new AdminProblem([
          { field: 'instance', message: `required: "${budget.id}" is a template budget; name one instance` },
        ]);
      return store.instances(budget.id, lineFor(budget, budget.id, nowMs).period.id);
    }
    const wildcards = Object.entries(budget.scope === 'global' ? {} : budget.scope)
      .filter(([, value]) => value === '*')
      .map(([field]) => field)
      .sort();
    const given = Object.keys(instanceValues(instance)).sort();
    if (!instance.startsWith(`${budget.id}|`) || given.join() !== wildcards.join())
      throw new AdminProblem([
        {
          field: 'instance',
          message: `expected "${budget.id}|${wildcards.map((f) => `${f}=<value>`).join('|')}"`,
        },
      ]);
    return [instance];
  }
}
