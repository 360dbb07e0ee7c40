/**
 * GET /admin/requests: the request ledger, streamed as JSON lines or CSV (one record per proxied
 * request; sum cost_nano to reconcile with a provider invoice).
 */
import { z } from 'zod';
import { type LedgerFormat, ledgerStream } from '../../../analytics/ledger-export.js';
import type { LedgerEntry } from '../../../store/history.js';
import { parseQuery } from '../shared/problems.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { DAY_MS, queryErrors, range, time } from './query.js';

const MAX_EXPORT = 10_000_000;

const requestsQuery = z
  .object({
    from: time,
    to: time,
    format: z.enum(['jsonl', 'csv']).default('jsonl'),
    limit: z.coerce
      .number()
      .int('expected an integer')
      .min(1, 'expected at least 1')
      .max(MAX_EXPORT, `expected at most ${MAX_EXPORT}`)
      .optional()
      .describe('At most this many records (oldest first).'),
    key: z.string().optional().describe('Only this key id.'),
    team: z.string().optional().describe('Only this team.'),
    user: z.string().optional().describe('Only this user.'),
    model: z.string().optional().describe('Only requests that asked for or were served by this model.'),
    session: z
      .string()
      .optional()
      .describe("Only this agent session (Claude Code's X-Claude-Code-Session-Id, Codex's session_id)."),
  })
  .strict();

async function* filtered(
  entries: AsyncIterable<LedgerEntry>,
  q: { key?: string; team?: string; user?: string; model?: string; session?: string },
): AsyncIterable<LedgerEntry> {
  for await (const e of entries) {
    if (q.key !== undefined && e.keyId !== q.key) continue;
    if (q.team !== undefined && e.team !== q.team) continue;
    if (q.user !== undefined && e.user !== q.user) continue;
    if (q.model !== undefined && e.requestedModel !== q.model && e.servedModel !== q.model) continue;
    if (q.session !== undefined && e.session !== q.session) continue;
    yield e;
  }
}

export const exportRequests: AdminRoute<Pick<AdminServices, 'analytics' | 'clock'>> = {
  doc: {
    method: 'get',
    path: '/admin/requests',
    summary:
      'The request ledger, one record per proxied request, streamed as JSON lines (application/x-ndjson) or CSV with a header row. Sum cost_nano to reconcile with a provider invoice. Default: the last 24 hours.',
    query: requestsQuery,
    errors: queryErrors,
  },
  register(admin, { analytics, clock }) {
    mountRoute(admin, exportRequests.doc, async (c) => {
      const q = parseQuery(requestsQuery, c);
      const { fromMs, toMs } = range(q, clock(), DAY_MS);
      const format: LedgerFormat = q.format;
      // Records still in the recorder's buffer belong in the export.
      await analytics.flush().catch(() => {});
      const body = ledgerStream(filtered(analytics.ledger(fromMs, toMs), q), format, q.limit ?? MAX_EXPORT);
      const name = `requests-${new Date(fromMs).toISOString().replaceAll(':', '')}.${format}`;
      return new Response(body, {
        headers: {
          'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
          'content-disposition': `attachment; filename="${name}"`,
          'cache-control': 'no-store',
        },
      });
    });
  },
};
