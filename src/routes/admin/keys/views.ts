/**
 * Virtual keys as the admin API shows them: config file keys (read-only here) and API-made ones,
 * never with a secret or a hash. A new key's secret is shown once, in the creation answer.
 */
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { GatewayError } from '../../../errors.js';
import type { MergedConfig } from '../../../registry/merge.js';
import type { ApiKeyRecord } from '../../../registry/records.js';
import type { ConfigRegistry } from '../../../registry/registry.js';
import type { keyAnswer } from './schemas.js';

/** `sk-gw-` + 32 random bytes, base64url: 256 bits, nothing to guess. */
export function newKeySecret(): string {
  return `sk-gw-${randomBytes(32).toString('base64url')}`;
}

export type KeyJson = z.infer<typeof keyAnswer>;

export function apiKeyJson(record: ApiKeyRecord, problems: string[] = []): KeyJson {
  return {
    id: record.id,
    source: 'api',
    active: problems.length === 0,
    ...(problems.length > 0 ? { problems } : {}),
    ...(record.user !== undefined ? { user: record.user } : {}),
    ...(record.team !== undefined ? { team: record.team } : {}),
    tags: record.tags,
    ...(record.models !== undefined ? { models: record.models } : {}),
    ...(record.max_choices !== undefined ? { max_choices: record.max_choices } : {}),
    created_at: record.created_at,
  };
}

/** Config keys first (file order), then API keys (id order). Never a secret or a hash. */
export function keyList(merged: MergedConfig): KeyJson[] {
  const fromFile: KeyJson[] = merged.config.fileDefinitions.keys.map((key) => ({
    id: key.id,
    source: 'config',
    active: true,
    ...(key.user !== undefined ? { user: key.user } : {}),
    ...(key.team !== undefined ? { team: key.team } : {}),
    tags: key.tags,
    ...(key.models !== undefined ? { models: key.models } : {}),
    ...(key.max_choices !== undefined ? { max_choices: key.max_choices } : {}),
  }));
  const fromApi = [...merged.apiKeys.values()].map((r) => apiKeyJson(r, merged.inactiveKeys.get(r.id)));
  return [...fromFile, ...fromApi];
}

export function isFileKey(registry: ConfigRegistry, id: string): boolean {
  return [...registry.fileConfig().keysByHash.values()].some((k) => k.id === id);
}

export function keyNotFound(id: string): never {
  throw new GatewayError('not_found', `No key "${id}".`, { param: 'id' });
}
