/** GET /admin/keys/{id}: one virtual key, without its secret (the file's key when both define the id). */
import { idParam } from '../shared/body.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { keyAnswer, keyIdParam } from './schemas.js';
import { keyList, keyNotFound } from './views.js';

export const getKey: AdminRoute<Pick<AdminServices, 'registry'>> = {
  doc: {
    method: 'get',
    path: '/admin/keys/{id}',
    summary: 'One virtual key, without its secret.',
    params: keyIdParam,
    response: keyAnswer,
    errors: { 404: 'No such key.' },
  },
  register(admin, { registry }) {
    mountRoute(admin, getKey.doc, async (c) => {
      const id = idParam(c);
      await registry.refresh();
      const keys = keyList(registry.merged());
      return c.json(
        keys.find((k) => k.id === id && k.source === 'config') ??
          keys.find((k) => k.id === id) ??
          keyNotFound(id),
      );
    });
  },
};
