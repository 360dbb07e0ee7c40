/**
 * /admin/keys: virtual keys. POST makes a key and shows its secret once; only the secret's SHA-256
 * is stored, and no answer ever shows the secret or the hash again. DELETE revokes an API-made key
 * on every instance (within the metadata refresh interval). Config file keys are read-only here.
 */
import { randomBytes } from 'node:crypto';
import type { Hono } from 'hono';
import { z } from 'zod';
import { ANONYMOUS_KEY_ID, sha256Hex } from '../config/compile.js';
import type { ApiKeyRecord, MergedConfig } from '../config/registry.js';
import { AdminProblem, fail, handled, idParam, type Problem, readJson, validate } from './http.js';
import { documentRoute } from './openapi-registry.js';
import { type AdminDeps, requireServices } from './router.js';

/** `sk-gw-` + 32 random bytes, base64url: 256 bits, nothing to guess. */
export function newKeySecret(): string {
  return `sk-gw-${randomBytes(32).toString('base64url')}`;
}

const keyIdParam = z.object({ id: z.string().describe('Key id.') });

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
  })
  .strict();

const keyAnswer = z.object({
  id: z.string(),
  source: z.enum(['config', 'api']),
  active: z.boolean().describe('False for an API key the config file now overrides (see problems).'),
  problems: z.array(z.string()).optional(),
  user: z.string().optional(),
  team: z.string().optional(),
  tags: z.array(z.string()),
  models: z.array(z.string()).optional(),
  created_at: z.string().optional(),
});

const createdKeyAnswer = keyAnswer.extend({
  key: z.string().describe('The secret. Shown this once: only its SHA-256 is stored.'),
});

const keyListAnswer = z.object({ keys: z.array(keyAnswer) });
const revokedAnswer = z.object({ id: z.string(), revoked: z.literal(true) });

documentRoute({
  method: 'get',
  path: '/admin/keys',
  summary: 'Every virtual key (config file and API-made), without secrets or hashes.',
  response: keyListAnswer,
});
documentRoute({
  method: 'post',
  path: '/admin/keys',
  summary: 'Creates a virtual key; the answer (201) holds its secret, shown this once.',
  body: createKeyBody,
  response: createdKeyAnswer,
  status: 201,
  errors: {
    400: 'The body has problems (all listed by field); nothing was written.',
    409: 'The id is taken.',
  },
});
documentRoute({
  method: 'get',
  path: '/admin/keys/{id}',
  summary: 'One virtual key, without its secret.',
  params: keyIdParam,
  response: keyAnswer,
  errors: { 404: 'No such key.' },
});
documentRoute({
  method: 'delete',
  path: '/admin/keys/{id}',
  summary: 'Revokes an API-made key: every instance answers it 401 within about a second.',
  params: keyIdParam,
  response: revokedAnswer,
  errors: { 404: 'No such key.', 409: 'The key is defined in the config file (read-only here).' },
});

type KeyJson = z.infer<typeof keyAnswer>;

function apiKeyJson(record: ApiKeyRecord, problems: string[] = []): KeyJson {
  return {
    id: record.id,
    source: 'api',
    active: problems.length === 0,
    ...(problems.length > 0 ? { problems } : {}),
    ...(record.user !== undefined ? { user: record.user } : {}),
    ...(record.team !== undefined ? { team: record.team } : {}),
    tags: record.tags,
    ...(record.models !== undefined ? { models: record.models } : {}),
    created_at: record.created_at,
  };
}

/** Config keys first (file order), then API keys (id order). Never a secret or a hash. */
function keyList(merged: MergedConfig): KeyJson[] {
  const fromFile: KeyJson[] = merged.config.file.keys.map((key) => ({
    id: key.id,
    source: 'config',
    active: true,
    ...(key.user !== undefined ? { user: key.user } : {}),
    ...(key.team !== undefined ? { team: key.team } : {}),
    tags: key.tags,
    ...(key.models !== undefined ? { models: key.models } : {}),
  }));
  const fromApi = [...merged.apiKeys.values()].map((r) => apiKeyJson(r, merged.inactiveKeys.get(r.id)));
  return [...fromFile, ...fromApi];
}

export function keyRoutes(admin: Hono, deps: AdminDeps): void {
  const { registry, meta, clock } = requireServices(deps, 'keys', 'registry', 'meta');
  const isFileKey = (id: string) => registry.fileConfig().file.keys.some((k) => k.id === id);
  const notFound = (id: string): never => fail('not_found', `No key "${id}".`, 'id');

  admin.get(
    '/keys',
    handled(async (c) => {
      await registry.refresh();
      return c.json({ keys: keyList(registry.merged()) });
    }),
  );

  admin.get(
    '/keys/:id',
    handled(async (c) => {
      const id = idParam(c);
      await registry.refresh();
      const keys = keyList(registry.merged());
      return c.json(
        keys.find((k) => k.id === id && k.source === 'config') ??
          keys.find((k) => k.id === id) ??
          notFound(id),
      );
    }),
  );

  admin.post(
    '/keys',
    handled(async (c) => {
      const body = validate(createKeyBody, await readJson(c));
      const models = registry.fileConfig().models;
      const problems: Problem[] = (body.models ?? []).flatMap((model, i) =>
        models.has(model) ? [] : [{ field: `models[${i}]`, message: `unknown model ${model}` }],
      );
      if (problems.length > 0) throw new AdminProblem(problems);
      const id = body.id ?? `key-${randomBytes(6).toString('hex')}`;
      await registry.refresh();
      if (isFileKey(id))
        fail('conflict', `Key "${id}" is defined in the config file and is read-only through the API.`, 'id');
      if (id === ANONYMOUS_KEY_ID)
        fail('conflict', `Key id "${ANONYMOUS_KEY_ID}" is reserved for trial users.`, 'id');
      const secret = newKeySecret();
      const record: ApiKeyRecord = {
        id,
        key_sha256: sha256Hex(secret),
        ...(body.user !== undefined ? { user: body.user } : {}),
        ...(body.team !== undefined ? { team: body.team } : {}),
        tags: body.tags,
        ...(body.models !== undefined ? { models: body.models } : {}),
        created_at: new Date(clock()).toISOString(),
      };
      if ((await meta.put('keys', id, record, 'create')) === null)
        fail('conflict', `Key "${id}" already exists.`, 'id');
      await registry.refresh();
      return c.json({ ...apiKeyJson(record), key: secret }, 201);
    }),
  );

  admin.delete(
    '/keys/:id',
    handled(async (c) => {
      const id = idParam(c);
      if ((await meta.remove('keys', id)) === null) {
        await registry.refresh();
        if (isFileKey(id))
          fail(
            'conflict',
            `Key "${id}" is defined in the config file and is read-only through the API; edit the file and reload.`,
            'id',
          );
        notFound(id);
      }
      await registry.refresh();
      return c.json({ id, revoked: true as const });
    }),
  );
}
