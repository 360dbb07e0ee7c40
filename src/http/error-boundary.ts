/**
 * The one place an error becomes a response. Handlers throw; this renders what they threw in the
 * client's format (the request context's `format`) and logs, with the request id and the stack,
 * everything it does not know. Known errors: GatewayError (its own code, status and headers), a
 * list of problems (a 400 naming every field), a store that did not answer (503).
 */
import type { Context } from 'hono';
import type { Logger } from 'pino';
import { type ApiFormat, errorResponse, GatewayError, invalidRequest, type Problem } from '../errors.js';
import { StoreResetError, StoreUnavailableError } from '../store/types.js';
import type { GatewayApp, GatewayEnv } from './app.js';
import { apiFormatOf, nextRequestId } from './context.js';
import { STORE_RESET_MESSAGE } from './denial-errors.js';

const INTERNAL_MESSAGE = 'The gateway failed to handle this request.';

/** An error that lists the problems of a rejected input (the admin API's validation errors). */
function problemsOf(error: unknown): Problem[] | undefined {
  const problems = (error as { problems?: unknown } | null)?.problems;
  return Array.isArray(problems) ? (problems as Problem[]) : undefined;
}

/** The GatewayError a thrown value stands for; undefined when it is not one the gateway knows. */
export function knownError(error: unknown): GatewayError | undefined {
  if (error instanceof GatewayError) return error;
  if (error instanceof StoreResetError)
    return new GatewayError('store_reset', STORE_RESET_MESSAGE, { cause: error });
  if (error instanceof StoreUnavailableError) {
    return new GatewayError(
      'store_unavailable',
      'The store is unavailable; nothing was changed. Retry shortly.',
      {
        cause: error,
      },
    );
  }
  const problems = problemsOf(error);
  if (error instanceof Error && problems) return invalidRequest(problems);
  return undefined;
}

/** What the client is told about an error nobody expected: nothing of it, only that it happened. */
export function internalError(cause?: unknown): GatewayError {
  return new GatewayError('internal_error', INTERNAL_MESSAGE, { cause });
}

/** The context variables, or what they would be when the error came before the context middleware. */
function requestOf(c: Context<GatewayEnv>): { requestId: string; format: ApiFormat } {
  return {
    requestId: c.get('requestId') ?? nextRequestId(),
    format: c.get('format') ?? apiFormatOf(c.req.path, c.req.header('anthropic-version')),
  };
}

export function renderError(c: Context<GatewayEnv>, error: GatewayError): Response {
  const { requestId, format } = requestOf(c);
  return errorResponse(error, format, new Headers({ 'x-gateway-request-id': requestId }));
}

export function installErrorBoundary(
  app: GatewayApp,
  logger: Logger,
  onUnknownPath?: (method: string) => void,
): void {
  app.onError((error, c) => {
    const known = knownError(error);
    if (known) return renderError(c, known);
    logger.error({
      msg: 'unhandled error',
      requestId: requestOf(c).requestId,
      method: c.req.method,
      path: c.req.path,
      err: error,
    });
    return renderError(c, internalError(error));
  });
  app.notFound((c) => {
    onUnknownPath?.(c.req.method);
    // Method and path only: a query string may hold anything, and it is not needed to find the caller's mistake.
    logger.info({
      msg: 'no route',
      requestId: requestOf(c).requestId,
      method: c.req.method,
      path: c.req.path,
    });
    return renderError(c, new GatewayError('not_found', `No route for ${c.req.method} ${c.req.path}.`));
  });
}
