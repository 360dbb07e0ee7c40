/** GET /admin/keys: every virtual key (config file and API-made), without secrets or hashes. */
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { keyListAnswer } from './schemas.js';
import { keyList } from './views.js';

export const listKeys: AdminRoute<Pick<AdminServices, 'registry'>> = {
  doc: {
    method: 'get',
    path: '/admin/keys',
    summary: 'Every virtual key (config file and API-made), without secrets or hashes.',
    response: keyListAnswer,
  },
  register(admin, { registry }) {
    mountRoute(admin, listKeys.doc, async (c) => {
      await registry.refresh();
      return c.json({ keys: keyList(registry.merged()) });
    });
  },
};
