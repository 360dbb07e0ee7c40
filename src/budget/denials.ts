/**
 * Why the budget engine refused a request, as values. The engine never builds user-facing text or
 * HTTP headers; the HTTP edge (src/http/denial-errors.ts) turns a denial into the message, status,
 * `retry-after` and `x-should-retry` the client sees, in its API's format.
 */
import type { LimitKind, LimitSpec } from '../limits/types.js';
import type { Nano } from '../money.js';

export type Denial =
  | {
      kind: 'budget_exceeded';
      /** The budget (template id for "*" budgets) that cannot hold even the request's minimum. */
      budgetId: string;
      /** The budget's instance id ("per-user|user=alice"); equals budgetId for plain budgets. */
      instance: string;
      remainingNano: Nano;
      /** The smallest reservation this request could be served with (prompt + min output). */
      minimumNano: Nano;
      /** Start of the budget's next period; null for prepaid budgets (no reset). */
      resetsAtMs: number | null;
      /** The request's time, so the edge can say "retry after N s" without reading a clock. */
      nowMs: number;
      /** Trial users get the configured upgrade message instead. */
      anonymous: boolean;
    }
  | {
      /**
       * The request's minimum fits once requests in flight settle, but they did not settle within
       * budgeting.max_wait_ms: retrying shortly can succeed.
       */
      kind: 'budget_busy';
      budgetId: string;
      instance: string;
      /** How long the request waited before giving up. */
      waitedMs: number;
      anonymous: boolean;
    }
  | {
      kind: 'forbidden_model';
      model: string;
      keyId: string;
      anonymous: boolean;
      /** What the caller may use instead, when the list is known (trial models). */
      allowed?: readonly string[];
    }
  | { kind: 'store_unavailable'; operation: 'reserve' | 'balances' }
  /** The store came back empty ([hardening] 14.1): refused whatever on_unavailable says, until recovered. */
  | { kind: 'store_reset' }
  | {
      /** A rate or concurrency limit is full (src/limits/): retrying after `retryAfterMs` may pass. */
      kind: 'rate_limited';
      limit: LimitSpec;
      limitKind: LimitKind;
      retryAfterMs: number;
      /** The request alone asks more tokens than the limit allows per minute: retrying cannot help. */
      tooLarge: boolean;
      anonymous: boolean;
    };

export type DenialKind = Denial['kind'];
