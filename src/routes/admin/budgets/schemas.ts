/**
 * Bodies and answers of /admin/budgets. Bodies use the config file's own budget schema, so a
 * budget written in YAML and one sent to the API are checked by the same rules.
 */
import { z } from 'zod';
import { budgetSchema } from '../../../config/schema.js';

export const budgetIdParam = z.object({ id: z.string().describe('Budget id.') });

export const createBudgetBody = budgetSchema.describe(
  'A budget, exactly as in the config file (`budgets[]`).',
);

export const updateBudgetBody = budgetSchema
  .extend({ id: budgetSchema.shape.id.optional().describe('Must match the path when given.') })
  .describe('The whole new definition (not a patch), as in the config file.');

const instanceField = z
  .string()
  .min(1)
  .describe(
    'A template ("*") budget\'s instance, as listed in top_spenders, e.g. "per-user-daily|user=alice".',
  );

export const resetBody = z
  .object({ instance: instanceField.optional() })
  .strict()
  .describe('Optional: on a template budget, one instance; without it, every instance this period.');

export const topupBody = z
  .object({
    amount_usd: z
      .number({ error: 'expected a positive number' })
      .positive('expected a positive number')
      .max(1_000_000_000, 'expected at most 1e9')
      .describe(
        'Added to the limit: for good on a prepaid (period none) budget, for the current period otherwise.',
      ),
    instance: instanceField.optional().describe('Required on template budgets.'),
  })
  .strict();

const balanceAnswer = z.object({
  limit_usd: z.number().describe('Effective limit: base + rollover + top-ups.'),
  spent_usd: z.number(),
  reserved_usd: z.number().describe('Held by requests in flight.'),
  remaining_usd: z.number(),
});

export const budgetAnswer = budgetSchema.extend({
  source: z
    .enum(['config', 'api'])
    .describe('config: from the YAML file, read-only here; api: made through this API.'),
  active: z.boolean().describe('False for an API budget that no longer fits the config (see problems).'),
  problems: z.array(z.string()).optional(),
  template: z.boolean().describe('True when a scope value is "*": one instance per distinct value.'),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  balance: balanceAnswer
    .extend({ period: z.string(), resets_at: z.string().nullable() })
    .optional()
    .describe('Plain budgets: the current period.'),
  instances: z
    .object({
      period: z.string(),
      resets_at: z.string().nullable(),
      count: z.number().int().describe('Instances that spent or reserved this period.'),
      partial: z.boolean().describe('True when there were too many instances to read them all.'),
      limit_usd_each: z.number(),
      spent_usd: z.number(),
      reserved_usd: z.number(),
      top_spenders: z.array(
        balanceAnswer.extend({ instance: z.string(), values: z.record(z.string(), z.string()) }),
      ),
    })
    .optional()
    .describe('Template budgets: a summary of the current period.'),
});

export const budgetListAnswer = z.object({ budgets: z.array(budgetAnswer) });

export const deletedAnswer = z.object({ id: z.string(), deleted: z.literal(true) });
