/**
 * The budgets and keys made through the admin API, as the metadata store (src/store/meta.ts) keeps
 * them: one JSON record each, validated here when read, so a record a newer or broken writer left
 * is skipped (and reported) instead of breaking every instance.
 */
import { z } from 'zod';
import { budgetSchema } from '../config/schema.js';
import type { MetaSnapshot } from '../store/meta.js';

export const apiBudgetRecordSchema = z.object({
  budget: budgetSchema,
  created_at: z.string(),
  updated_at: z.string(),
});

export const apiKeyRecordSchema = z.object({
  id: z.string().min(1),
  key_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  user: z.string().optional(),
  team: z.string().optional(),
  tags: z.array(z.string()).default([]),
  models: z.array(z.string()).optional(),
  max_choices: z.number().int().positive().optional(),
  created_at: z.string(),
});

export type ApiBudgetRecord = z.infer<typeof apiBudgetRecordSchema>;
export type ApiKeyRecord = z.infer<typeof apiKeyRecordSchema>;

export interface ParsedMeta {
  version: number;
  budgets: ApiBudgetRecord[];
  keys: ApiKeyRecord[];
  /** Stored records that did not parse (a newer or broken writer), by kind/id. */
  unreadable: string[];
}

export const EMPTY_META: ParsedMeta = { version: -1, budgets: [], keys: [], unreadable: [] };

export function parseMeta(snapshot: MetaSnapshot): ParsedMeta {
  const parsed: ParsedMeta = { version: snapshot.version, budgets: [], keys: [], unreadable: [] };
  for (const { id, value } of snapshot.budgets) {
    const record = apiBudgetRecordSchema.safeParse(value);
    if (record.success && record.data.budget.id === id) parsed.budgets.push(record.data);
    else parsed.unreadable.push(`budgets/${id}`);
  }
  for (const { id, value } of snapshot.keys) {
    const record = apiKeyRecordSchema.safeParse(value);
    if (record.success && record.data.id === id) parsed.keys.push(record.data);
    else parsed.unreadable.push(`keys/${id}`);
  }
  return parsed;
}
