import { z } from 'zod';
import { configSchema } from './schema.js';

/** The JSON Schema of the config file as a user writes it (defaults optional). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-7' }) as Record<string, unknown>;
  return {
    ...schema,
    title: 'llm-budget-gateway config',
    $id: 'https://llm-budget-gateway.dev/gateway.schema.json',
  };
}
