/**
 * One record per proxied request, emitted when it is finished (settled or rejected). Metrics, the
 * structured log line and the request ledger are all fed from it, so they always agree.
 * Nothing secret goes in here: no keys, no prompt text.
 */
import type { Nano } from './money.js';

export interface RequestRecord {
  timeMs: number;
  requestId: string;
  endpoint: string;
  keyId: string | null;
  user: string | null;
  team: string | null;
  anonymous: boolean;
  /**
   * The agent session the request belongs to (Claude Code's X-Claude-Code-Session-Id, Codex CLI's
   * session_id), when sent and well-formed: a usage dimension (the log line, the ledger,
   * /admin/usage?group_by=session). Optional: most clients send none.
   */
  session?: string | null;
  requestedModel: string | null;
  servedModel: string | null;
  provider: string | null;
  stream: boolean;
  /** HTTP status answered to the client (200 even when a stream later broke). */
  status: number;
  /** Error code when the gateway answered with an error (budget_exceeded, unauthorized, ...). */
  errorCode: string | null;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costNano: Nano;
  /** What the provider reported it charged (OpenRouter usage.cost), when it did; never billed. */
  providerCostNano?: Nano;
  estimateNano: Nano;
  /** Total time from request to the last byte, ms. */
  latencyMs: number;
  /** Time spent waiting on the provider (request sent to last byte), ms; 0 when not forwarded. */
  upstreamMs: number;
  /** Provider time to first byte (response headers), ms; null when not forwarded. */
  upstreamTtfbMs: number | null;
  downgraded: boolean;
  clamped: boolean;
  /** How the reservation ended: settled from reported usage, from counted text, released, or none. */
  settlement: 'usage' | 'counted' | 'reserved' | 'released' | 'none';
  /** Milliseconds the admission waited for other requests' reservations (budgeting.max_wait_ms). */
  waitedMs: number;
  /** The answer was metered: reserved a slice of output at a time as it was relayed. */
  metered: boolean;
  /** Extensions of the reservation granted while relaying (metered answers). */
  extensions: number;
  /** The meter ended the answer because the budget could not hold more output. */
  cutAtBudget: boolean;
}

export type RequestObserver = (record: RequestRecord) => void;
