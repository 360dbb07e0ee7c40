/**
 * One proxied request as it goes through the phases (handler.ts): identify -> admit -> forward ->
 * relay -> settle. What every phase reads is here, built once by the handler.
 */
import type { Dispatcher } from 'undici';
import type { BudgetEngine } from '../../budget/types.js';
import type { RuntimeConfig, RuntimeProvider } from '../../config/runtime.js';
import type { GatewayContext } from '../../http/app.js';
import type { KeyLookup } from '../../http/key-auth.js';
import type { HeaderRecord } from '../../providers/headers.js';
import type { ResponseTokenMemory } from '../../providers/response-memory.js';
import type { EndpointAdapter, RequestBody } from '../../providers/types.js';
import type { RequestObserver } from '../../record.js';
import type { Tracing } from '../../telemetry/tracing.js';
import type { RequestState } from './request-state.js';

/** Where requests to a provider go: UpstreamPools in the gateway, an undici MockPool in tests. */
export interface UpstreamDispatch {
  pool(provider: RuntimeProvider): Pick<Dispatcher, 'request'>;
}

export interface ProxyDeps {
  engine(): BudgetEngine;
  pools: UpstreamDispatch;
  observe: RequestObserver;
  lookupKey?: KeyLookup;
  clock?: () => number;
  /**
   * Context tokens of the Responses this gateway served (one per gateway): admission reserves a
   * previous_response_id at what it left behind (response-context.ts rememberResponse fills it).
   */
  responses?: ResponseTokenMemory;
  /** A provider failed before answering and the request moved to a fallback model. */
  onFallback?(from: string, to: string, reason: string): void;
  /** OpenTelemetry traces; undefined when tracing is off (nothing is traced then). */
  tracing?: Tracing;
}

export interface Exchange {
  readonly c: GatewayContext;
  readonly adapter: EndpointAdapter;
  readonly deps: ProxyDeps;
  /** The config snapshot the request started with (request context). */
  readonly config: RuntimeConfig;
  readonly engine: BudgetEngine;
  /** The request's record (ledger, log line, metrics), emitted once when it ends. */
  readonly state: RequestState;
  readonly clientHeaders: HeaderRecord;
  /** The parsed body; forward() rewrites model and cap in place for the model it sends to. */
  readonly body: RequestBody;
  /** The body as received, sent unchanged when nothing in it had to change. */
  readonly bytes: Buffer;
  readonly stream: boolean;
}
