/**
 * POST /admin/config/reload: re-reads the config file, like SIGHUP and the file watch. An invalid
 * file keeps the running config and answers 400 with every problem; requests in flight finish
 * under the config they started with (each holds its own snapshot).
 */
import { z } from 'zod';
import { GatewayError } from '../../errors.js';
import { problemsFromStrings } from './shared/problems.js';
import { type AdminRoute, mountRoute } from './shared/route.js';
import type { AdminServices } from './shared/services.js';

const reloadAnswer = z.object({
  status: z.literal('reloaded'),
  warnings: z.array(z.string()).describe('Changes that need a restart to apply (store, listen address).'),
});

export const reloadConfig: AdminRoute<Pick<AdminServices, 'reload' | 'registry'>> = {
  doc: {
    method: 'post',
    path: '/admin/config/reload',
    summary:
      'Re-reads the config file. An invalid file keeps the running config and answers 400 with its problems.',
    response: reloadAnswer,
    errors: { 400: 'The file has problems (all listed by field); the running config stays.' },
  },
  register(admin, { reload, registry }) {
    mountRoute(admin, reloadConfig.doc, async (c) => {
      const result = reload();
      if (!result.ok) {
        const count = result.problems.length;
        throw new GatewayError(
          'invalid_request',
          `The config file has ${count} problem${count === 1 ? '' : 's'}; the running config stays: ${result.problems.join('; ')}`,
          { problems: problemsFromStrings(result.problems) },
        );
      }
      // API records may have gone in or out of force with the new file.
      await registry.refresh();
      return c.json({ status: 'reloaded' as const, warnings: result.warnings });
    });
  },
};
