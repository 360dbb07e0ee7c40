/** DELETE /admin/keys/{id}: revokes an API-made key; every instance answers it 401 within about a second. */
import { GatewayError } from '../../../errors.js';
import { idParam } from '../shared/body.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { keyIdParam, revokedAnswer } from './schemas.js';
import { isFileKey, keyNotFound } from './views.js';

export const revokeKey: AdminRoute<Pick<AdminServices, 'registry' | 'meta'>> = {
  doc: {
    method: 'delete',
    path: '/admin/keys/{id}',
    summary: 'Revokes an API-made key: every instance answers it 401 within about a second.',
    params: keyIdParam,
    response: revokedAnswer,
    errors: { 404: 'No such key.', 409: 'The key is defined in the config file (read-only here).' },
  },
  register(admin, { registry, meta }) {
    mountRoute(admin, revokeKey.doc, async (c) => {
      const id = idParam(c);
      if ((await meta.remove('keys', id)) === null) {
        await registry.refresh();
        if (isFileKey(registry, id))
          throw new GatewayError(
            'conflict',
            `Key "${id}" is defined in the config file and is read-only through the API; edit the file and reload.`,
            { param: 'id' },
          );
        keyNotFound(id);
      }
      await registry.refresh();
      return c.json({ id, revoked: true as const });
    });
  },
};
