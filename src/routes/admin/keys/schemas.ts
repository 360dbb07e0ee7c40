/** Bodies and answers of /admin/keys. */
import { z } from 'zod';

export const keyIdParam = z.object({ id: z.string().describe('Key id.') });

export const createKeyBody = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . -')
      .max(128, 'expected at most 128 characters')
      .optional()
      .describe('Default: key-<random>.'),
    user: z
      .string()
      .min(1, 'expected a non-empty string')
      .optional()
      .describe('Budgets scoped to user apply.'),
    team: z.string().min(1, 'expected a non-empty string').optional(),
    tags: z.array(z.string().min(1, 'expected a non-empty string')).default([]),
    models: z
      .array(z.string().min(1, 'expected a non-empty string'))
      .optional()
      .describe('Models this key may use; absent means every configured model.'),
    max_choices: z
      .number()
      .int('expected an integer')
      .positive('expected a positive integer')
      .optional()
      .describe('Most choices (chat and completions `n`) one request may ask for; absent means no limit.'),
  })
  .strict();

export const keyAnswer = z.object({
  id: z.string(),
  source: z.enum(['config', 'api']),
  active: z.boolean().describe('False for an API key the config file now overrides (see problems).'),
  problems: z.array(z.string()).optional(),
  user: z.string().optional(),
  team: z.string().optional(),
  tags: z.array(z.string()),
  models: z.array(z.string()).optional(),
  max_choices: z.number().int().optional(),
  created_at: z.string().optional(),
});

export const createdKeyAnswer = keyAnswer.extend({
  key: z.string().describe('The secret. Shown this once: only its SHA-256 is stored.'),
});

export const keyListAnswer = z.object({ keys: z.array(keyAnswer) });
export const revokedAnswer = z.object({ id: z.string(), revoked: z.literal(true) });
