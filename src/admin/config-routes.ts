/**
 * POST /admin/config/reload: re-reads the config file, like SIGHUP and the file watch. An invalid
 * file keeps the running config and answers 400 with every problem; requests in flight finish
 * under the config they started with (each holds its own snapshot).
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { errorJson, handled, problemsFromStrings } from './http.js';
import { documentRoute } from './openapi-registry.js';
import { type AdminDeps, requireServices } from './router.js';

const reloadAnswer = z.object({
  status: z.literal('reloaded'),
  warnings: z.array(z.string()).describe('Changes that need a restart to apply (store, listen address).'),
});

documentRoute({
  method: 'post',
  path: '/admin/config/reload',
  summary:
    'Re-reads the config file. An invalid file keeps the running config and answers 400 with its problems.',
  response: reloadAnswer,
  errors: { 400: 'The file has problems (all listed by field); the running config stays.' },
});

export function configRoutes(admin: Hono, deps: AdminDeps): void {
  const { reload, registry } = requireServices(deps, 'config', 'reload', 'registry');
  admin.post(
    '/config/reload',
    handled(async (c) => {
      const result = reload();
      if (!result.ok) {
        const count = result.problems.length;
        return errorJson(
          new GatewayError(
            'invalid_request',
            `The config file has ${count} problem${count === 1 ? '' : 's'}; the running config stays: ${result.problems.join('; ')}`,
          ),
          problemsFromStrings(result.problems),
        );
      }
      // API records may have gone in or out of force with the new file.
      await registry.refresh();
      return c.json({ status: 'reloaded' as const, warnings: result.warnings });
    }),
  );
}
