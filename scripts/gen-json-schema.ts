/**
 * Writes config/gateway.schema.json from the zod schema, for editor completion
 * (`# yaml-language-server: $schema=./gateway.schema.json`). test/config/schema.test.ts keeps it in sync.
 */
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../src/config/json-schema.js';

const target = new URL('../config/gateway.schema.json', import.meta.url);
writeFileSync(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
