/**
 * A proxy route, in its fixed order of phases: identify (identify.ts) -> admit (admission.ts, the
 * engine; a denial is thrown here as `refusal()`) -> forward (forward.ts) -> relay (relay.ts, which
 * ends every answer in settle.ts, streams after their last byte). Everything
 * format-specific is behind the endpoint adapter; everything about money is behind the budget
 * engine. Each request runs on the config snapshot it started with (the request context).
 * Errors are thrown to the error boundary (http/error-boundary.ts) once the record says how the
 * request ended.
 */
import type { AdmissionGranted } from '../../budget/types.js';
import type { RuntimeModel } from '../../config/runtime.js';
import type { GatewayContext } from '../../http/app.js';
import {
  joinChunks,
  parseJsonObjectInTurn,
  readRequestChunks,
  requireJsonContentType,
} from '../../http/body.js';
import { internalError, knownError } from '../../http/error-boundary.js';
import { clientHeaders, headerSource } from '../../http/request.js';
import { longContextBetaProblem } from '../../providers/pricing.js';
import type { EndpointAdapter, RequestBody } from '../../providers/types.js';
import { releaseQueueRoom } from '../../tokens/estimate.js';
import { type AdmissionBuilder, admissionBuilder, refusal, resolveModel } from './admission.js';
import { probeWriterFor, refuseOnPrefix, refuseUnparsed } from './early-refusal.js';
import type { Exchange, ProxyDeps } from './exchange.js';
import { forward } from './forward.js';
import { identifyCaller } from './identify.js';
import { relay } from './relay.js';
import { RequestState } from './request-state.js';
import { NOTHING_PRODUCED, settleAnswer } from './settle.js';
import { CLIENT_CLOSED_STATUS, ClientGone, FallBack, fallbackModels } from './upstream-failures.js';

export type { ProxyDeps } from './exchange.js';

export function createProxyHandler(adapter: EndpointAdapter, deps: ProxyDeps) {
  const clock = deps.clock ?? Date.now;
  return async (c: GatewayContext): Promise<Response> => {
    const engine = deps.engine();
    const state = new RequestState(c.get('requestId'), adapter.path, clock());
    state.trace = deps.tracing?.startRequest(adapter, clientHeaders(c), state.startedAt);
    let admission: AdmissionGranted | undefined;
    try {
      const caller = identifyCaller(c, state, deps.lookupKey, adapter.acceptsQueryKey === true);
      requireJsonContentType({ headers: headerSource(caller.headers) });
      const config = c.get('config');
      // A large body its caller cannot pay for even at a lower bound is refused before it is parsed
      // here: it is streamed to the body probe's worker as it arrives (early-refusal.ts).
      const probe = probeWriterFor(c, adapter, config.server.maxBodyBytes);
      const early = { c, adapter, deps, engine, config, state, identity: caller.identity };
      // What the body's first megabytes already prove may refuse it before the rest is read.
      const stop = probe ? refuseOnPrefix(early, probe.writer, probe.declaredBytes) : undefined;
      const chunks = await readRequestChunks(c, config.server.maxBodyBytes, stop?.write, stop?.signal)
        .catch((error) => {
          probe?.writer.abandon();
          throw error;
        })
        .finally(() => stop?.arrived());
      // A probed body's chunks went to the worker: refuseUnparsed gives them back, joined there.
      const raw = probe ? await refuseUnparsed(early, probe.writer, probe.declaredBytes) : joinChunks(chunks);
      const { body, bytes } = await parseProxyBody(adapter, raw);
      const stream = adapter.isStream(body);
      state.record.stream = stream;
      const builder = admissionBuilder({
        requestId: state.record.requestId,
        identity: caller.identity,
        adapter,
        body,
        nowMs: state.record.timeMs,
        responses: deps.responses,
        stream,
      });
      state.record.user = builder.identity.user ?? null;
      // The model is the body's, or the path's for APIs that put it there (Gemini).
      const model = resolveModel(
        config,
        adapter,
        adapter.modelOf?.(body, c.req.path) ?? (body.model as string),
      );
      state.record.requestedModel = model.name;
      const exchange: Exchange = {
        c,
        adapter,
        deps,
        config,
        engine,
        state,
        clientHeaders: caller.headers,
        body,
        bytes,
        stream,
      };
      admission = await admit(exchange, builder, model);

      const fallbacks = fallbackModels(config, adapter, model.name, builder.identity);
      let fallbackFrom: string | undefined;
      // One client request counts once on requests_per_minute, however many models it tries.
      const counted = new Set<string>();
      for (let attempt = 0; ; attempt++) {
        try {
          const tried = { admission, canFallBack: attempt < fallbacks.length, fallbackFrom };
          return await relay(exchange, tried, await forward(exchange, tried));
        } catch (error) {
          if (!(error instanceof FallBack)) throw error;
          // The provider billed nothing; the fallback is checked against the budgets at its own price.
          await engine.release(admission.reservation);
          for (const limit of admission.reservation?.limits ?? []) counted.add(limit.instance);
          const from = admission.servedModel.name;
          admission = undefined;
          admission = await admit(exchange, builder, fallbacks[attempt] as RuntimeModel, counted);
          deps.onFallback?.(from, admission.servedModel.name, error.reason);
          fallbackFrom = from;
        }
      }
    } catch (error) {
      // A client gone after its request was written upstream is billed (forward.ts); else released.
      const billed = error instanceof ClientGone ? error.answered : NOTHING_PRODUCED;
      if (admission && !state.settled) await settleAnswer(engine, admission, billed, state);
      if (error instanceof ClientGone) {
        state.record.status = CLIENT_CLOSED_STATUS;
        state.finish(deps.observe);
        return new Response(null, { status: CLIENT_CLOSED_STATUS });
      }
      const answered = knownError(error) ?? internalError(error);
      state.record.status = answered.status;
      state.record.errorCode = answered.code;
      state.finish(deps.observe);
      throw error;
    } finally {
      // Token queue room the body probe held for a count that never came (refused, broken body).
      releaseQueueRoom(state.record.requestId);
    }
  };
}

/** The body, if it is a JSON object this endpoint accepts; the client's mistakes are 4xx. */
async function parseProxyBody(
  adapter: EndpointAdapter,
  bytes: Buffer,
): Promise<{ body: RequestBody; bytes: Buffer }> {
  const body = await parseJsonObjectInTurn(bytes);
  const invalid = adapter.validate(body);
  if (invalid) throw invalid;
  // The bytes sent when nothing else changes must say what was reserved for.
  return { body, bytes: adapter.alignCapFields?.(body) ? Buffer.from(JSON.stringify(body)) : bytes };
}

/** Phase 2: the engine decides model and cap and reserves; a refusal is thrown as the client's error. */
async function admit(
  exchange: Exchange,
  builder: AdmissionBuilder,
  model: RuntimeModel,
  countedLimits?: ReadonlySet<string>,
): Promise<AdmissionGranted> {
  const granted = await exchange.engine.admit(builder.request(model, countedLimits));
  exchange.state.trace?.admission(granted, exchange.body);
  if (!granted.ok) {
    exchange.state.record.waitedMs = granted.waitedMs ?? 0;
    throw refusal(granted, exchange.config);
  }
  // Checked on the served model (a downgrade or fallback may lack the tier the requested one has);
  // nothing was sent yet, so the reservation is simply released.
  const served = granted.servedModel;
  const beta = served.provider.kind === 'anthropic' ? exchange.clientHeaders['anthropic-beta'] : undefined;
  const unpriced = longContextBetaProblem(beta, served.price.longContext !== undefined);
  if (unpriced) {
    await exchange.engine.release(granted.reservation);
    throw unpriced;
  }
  const { record } = exchange.state;
  record.servedModel = granted.servedModel.name;
  record.provider = granted.servedModel.provider.name;
  record.estimateNano = granted.estimateNano;
  record.waitedMs = granted.waitedMs;
  record.downgraded = granted.downgradedFrom !== undefined;
  record.clamped = granted.clamped;
  return granted;
}
