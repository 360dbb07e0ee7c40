/**
 * POST /admin/keys: a new virtual key. The answer shows its secret this once; only the secret's
 * SHA-256 is stored. Every instance accepts it within the metadata refresh interval.
 */
import { randomBytes } from 'node:crypto';
import { ANONYMOUS_KEY_ID, sha256Hex } from '../../../config/compile.js';
import { GatewayError, invalidRequest, type Problem } from '../../../errors.js';
import type { ApiKeyRecord } from '../../../registry/records.js';
import { readJson } from '../shared/body.js';
import { validate } from '../shared/problems.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { createdKeyAnswer, createKeyBody } from './schemas.js';
import { apiKeyJson, isFileKey, newKeySecret } from './views.js';

export const createKey: AdminRoute<Pick<AdminServices, 'registry' | 'meta' | 'clock'>> = {
  doc: {
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
  },
  register(admin, { registry, meta, clock }) {
    mountRoute(admin, createKey.doc, async (c) => {
      const body = validate(createKeyBody, await readJson(c));
      const models = registry.fileConfig().models;
      const problems: Problem[] = (body.models ?? []).flatMap((model, i) =>
        models.has(model) ? [] : [{ field: `models[${i}]`, message: `unknown model ${model}` }],
      );
      if (problems.length > 0) throw invalidRequest(problems);
      const id = body.id ?? `key-${randomBytes(6).toString('hex')}`;
      await registry.refresh();
      if (isFileKey(registry, id))
        throw new GatewayError(
          'conflict',
          `Key "${id}" is defined in the config file and is read-only through the API.`,
          { param: 'id' },
        );
      if (id === ANONYMOUS_KEY_ID)
        throw new GatewayError('conflict', `Key id "${ANONYMOUS_KEY_ID}" is reserved for trial users.`, {
          param: 'id',
        });
      const secret = newKeySecret();
      const record: ApiKeyRecord = {
        id,
        key_sha256: sha256Hex(secret),
        ...(body.user !== undefined ? { user: body.user } : {}),
        ...(body.team !== undefined ? { team: body.team } : {}),
        tags: body.tags,
        ...(body.models !== undefined ? { models: body.models } : {}),
        ...(body.max_choices !== undefined ? { max_choices: body.max_choices } : {}),
        created_at: new Date(clock()).toISOString(),
      };
      if ((await meta.put('keys', id, record, 'create')) === null)
        throw new GatewayError('conflict', `Key "${id}" already exists.`, { param: 'id' });
      await registry.refresh();
      // The secret is shown this once: no cache on the way (proxy, browser) may keep a copy.
      return c.json({ ...apiKeyJson(record), key: secret }, 201, { 'cache-control': 'no-store' });
    });
  },
};
