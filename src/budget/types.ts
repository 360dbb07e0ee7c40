/**
 * What the proxy pipeline asks of the budget engine, and what it gets back.
 */
import type { RuntimeBudget, RuntimeModel } from '../config/runtime.js';
import type { LimitSpec, LimitUse } from '../limits/types.js';
import type { Nano } from '../money.js';
import type { LineSpec } from '../store/types.js';
import type { Usage } from '../usage.js';
import type { Denial } from './denials.js';

/** Who is calling: a virtual key's attributes, or an anonymous trial user. */
export interface Identity {
  keyId: string;
  user?: string;
  team?: string;
  tags: string[];
  /** Allowed models; undefined = all configured models. */
  allowedModels?: ReadonlySet<string>;
  /** Most choices (`n`) one request may ask for; undefined = no limit. */
  maxChoices?: number;
  anonymous: boolean;
}

export interface AdmissionRequest {
  requestId: string;
  identity: Identity;
  /** The model the client asked for. */
  model: RuntimeModel;
  /** Prompt tokens as the given model's tokenizer counts them (downgrades may change the model). */
  promptTokensFor(model: RuntimeModel): number | Promise<number>;
  /**
   * Bounds on promptTokensFor(model) known without counting (tokens/lower-bound.ts), for prompts
   * large enough that counting them is worth avoiding; undefined (or absent): count first.
   */
  promptBoundsFor?(model: RuntimeModel): { lower: number; upper: number } | undefined;
  /** The output cap the client sent, if any: per output sequence (per choice, per prompt). */
  requestedCap: number | undefined;
  /**
   * Output sequences the provider may bill, each up to the cap (adapter.worstCase(): chat `n`,
   * completions prompts x max(n, best_of); 1 when absent). The reserve prices `cap x this` output
   * tokens, so fit-to-budget lowers the per-sequence cap.
   */
  outputMultiplier?: number;
  /** True for APIs without output tokens (embeddings). */
  outputless: boolean;
  /**
   * The answer is relayed as a stream the gateway watches (a client stream, or a plain request the
   * gateway streams upstream), so it may be metered: reserve a slice of output and extend as it
   * is relayed (DESIGN §3 "Metered streams"). The served model may still opt out (hidden reasoning).
   */
  metered?: boolean;
  /** Request time (ms since epoch); the engine's clock is injectable for tests. */
  nowMs: number;
  /** A streamed answer: it also falls under the limits' concurrent_streams caps. */
  stream?: boolean;
  /**
   * Limit instances an earlier attempt of this client request counted it on (a fallback):
   * requests_per_minute does not count it there again (LimitSpec.counted).
   */
  countedLimits?: ReadonlySet<string>;
}

/** A limit instance and its use after this request's reservation (x-ratelimit-* headers, metrics). */
export interface LimitView {
  spec: LimitSpec;
  use: LimitUse;
}

/** A budget line as shown to the caller (headers, /v1/budget, /v1/cost/estimate). */
export interface BudgetView {
  budget: RuntimeBudget;
  /** The instance id (differs from budget.id for "*" templates). */
  instance: string;
  line: LineSpec;
  limitNano: Nano;
  spentNano: Nano;
  reservedNano: Nano;
  remainingNano: Nano;
  /** Start of the next period (ms since epoch); null for prepaid budgets. */
  resetsAtMs: number | null;
}

export interface Reservation {
  id: string;
  /** Nano-USD reserved on every line; a metered reservation's grows with each extension. */
  amountNano: Nano;
  lines: LineSpec[];
  /** Rate/concurrency limits the reservation holds (its settle frees the slots, corrects tokens). */
  limits?: LimitSpec[];
  /** The reserve's time (`nowMs`): its first lease ran from then, and its renewals stop a request's life later. */
  reservedAtMs?: number;
}

/** What a metered admission holds, in per-sequence cap units (the reserve's `requestedCap`). */
export interface MeterGrant {
  /** Cap held now (the first slice, then more with each extension). */
  heldCap: number;
  /** Cap each extension asks for (budgeting.stream_slice_tokens, at most the request's cap). */
  sliceCap: number;
  /** The cap sent upstream: the meter never holds more than this. */
  fullCap: number;
  /** Output sequences per cap token (`n`, prompts): tokens held = heldCap x this. */
  outputMultiplier: number;
}

export interface AdmissionGranted {
  ok: true;
  /** null when the store was unavailable and on_unavailable is 'allow' (the request is not counted). */
  reservation: Reservation | null;
  servedModel: RuntimeModel;
  /** Set when a threshold's downgrade map changed the model. */
  downgradedFrom?: string;
  /** The output cap to send upstream (per output sequence); undefined for outputless APIs. */
  outputCap: number | undefined;
  /**
   * Output tokens the reservation covers: outputCap x the request's output multiplier (0 for
   * outputless APIs). What a settle without usage must bill as output.
   */
  reservedOutputTokens: number;
  /** True when the cap sent upstream differs from the client's (set by the gateway or lowered to fit). */
  capChanged: boolean;
  /** True when fit-to-budget lowered the cap below what was asked (or the model's maximum). */
  clamped: boolean;
  estimateNano: Nano;
  /** The budget with the least remaining after this reservation, if any applies. */
  tightest?: BudgetView;
  promptTokens: number;
  /** Set when the request is metered: the reservation holds a slice and grows as output is relayed. */
  meter?: MeterGrant;
  /** Time spent waiting for other requests' reservations to settle (budgeting.max_wait_ms). */
  waitedMs: number;
  /** The request's limits and their use after it was counted. */
  limits?: LimitView[];
}

/** Refused: why, as values (the HTTP edge renders it, src/http/denial-errors.ts). */
export interface AdmissionDenied {
  ok: false;
  denial: Denial;
  /** The estimate at the last model tried, for /v1/cost/estimate. */
  estimateNano?: Nano;
  servedModel?: RuntimeModel;
  budgets?: BudgetView[];
  /** Time spent waiting before the refusal. */
  waitedMs?: number;
  /** The request's limits as they stood when it was refused (x-ratelimit-* headers on the 429). */
  limits?: LimitView[];
}

export type Admission = AdmissionGranted | AdmissionDenied;

export interface SettleOutcome {
  costNano: Nano;
  /** Remaining on the tightest line after settling. */
  tightest?: BudgetView;
}

export interface BudgetEngine {
  /** Decides model and cap, reserves on every line or none. */
  admit(request: AdmissionRequest): Promise<Admission>;
  /**
   * The admission's pre-check of a large prompt alone (its lower bound cannot fit a budget or a
   * limit): the refusal admit would answer without counting, or undefined. Reserves nothing.
   */
  precheck(request: AdmissionRequest): Promise<AdmissionDenied | undefined>;
  /** What admit would do, without reserving (POST /v1/cost/estimate). */
  preview(request: AdmissionRequest): Promise<Admission & { budgets: BudgetView[] }>;
  /** Replaces the reservation by the cost of `usage` at `model`'s price. Never throws; retries on store outage. */
  settle(reservation: Reservation | null, model: RuntimeModel, usage: Usage): Promise<SettleOutcome>;
  /** Drops the reservation (the provider produced nothing). Never throws. */
  release(reservation: Reservation | null): Promise<void>;
  /**
   * More output for a metered admission (and its lease renewed): grows `admission.meter.heldCap`,
   * `reservedOutputTokens` and the reservation's amount in place when granted. Never throws.
   */
  extend(admission: AdmissionGranted, addCap: number, minAddCap: number): Promise<ExtendOutcome>;
  /** The admission's lines could pay `tokens` more output and are under half used, as last seen. */
  farFromEnd(admission: AdmissionGranted, tokens: number): boolean;
  /** The caller's budgets with balances (GET /v1/budget); throws StoreUnavailableError on an outage. */
  budgetsFor(identity: Identity, nowMs: number): Promise<BudgetView[]>;
  close(): Promise<void>;
}

/**
 * An extension's answer: extended (partly, in a budget's last per cent); busy (others hold the
 * money: it may be granted later); rejected (the money is spent); gone (the reservation was settled
 * or reaped); unavailable (the store did not answer: budgeting.on_unavailable decides).
 */
export type ExtendOutcome =
  | { status: 'extended'; grantedAddCap: number }
  | { status: 'busy' | 'rejected' | 'gone' | 'unavailable' };
