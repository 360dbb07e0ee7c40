/**
 * Provider paths that cost money and that the gateway cannot budget yet: refused in the client's
 * format with a message saying why, never passed through unbudgeted (DESIGN.md, proxy endpoints).
 * And Codex CLI's WebSocket attempt on GET /v1/responses, answered so it falls back to HTTP at once.
 */
import { GatewayError } from '../../errors.js';
import type { GatewayContext } from '../../http/app.js';

/** POST /v1/messages/batches, /v1/batches: a batch's cost is only known long after admission. */
export function batchesRefused() {
  return (c: GatewayContext): Response => {
    throw new GatewayError(
      'not_found',
      `${c.req.path} is not available through this gateway: batch jobs are billed when they finish, hours after they are sent, so the gateway cannot reserve their cost inside a budget. Send the requests one by one.`,
    );
  };
}

/**
 * POST /v1/images/generations: priced per image. The bundled catalogue has image-token prices
 * only, no per-image price for the sizes and qualities a request asks for, so the gateway refuses
 * rather than guess (a 400 naming the reason).
 */
export function imagesRefused() {
  return (_c: GatewayContext): Response => {
    throw new GatewayError(
      'invalid_request',
      'Image generation is not available through this gateway: it is billed per image, and neither the config nor the price catalogue has a per-image price to keep the request inside a budget.',
    );
  };
}

/**
 * GET /v1/responses is only ever a WebSocket upgrade (Codex CLI's Responses-over-WebSocket
 * transport). Codex falls back to HTTP at once on exactly one answer, 426 Upgrade Required: see
 * openai/codex codex-rs/core/src/client.rs, where `websocket_connection` maps
 * `TransportError::Http { status: UPGRADE_REQUIRED }` to `WebsocketStreamOutcome::FallbackToHttp`;
 * any other status (404 included) is a stream error retried up to `stream_max_retries` first,
 * seconds per session. The gateway meters streams over HTTP SSE, so it does not serve the socket.
 */
export function responsesWebsocketDeclined() {
  return (c: GatewayContext): Response =>
    c.json(
      {
        error: {
          message: 'This gateway serves the Responses API over HTTP only; POST /v1/responses.',
          type: 'invalid_request_error',
          code: 'websocket_not_supported',
          param: null,
        },
      },
      426,
      { 'x-gateway-request-id': c.get('requestId') },
    );
}
