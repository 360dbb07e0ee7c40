/**
 * One error class with a code; one code-to-status map; one body shape per client API.
 * Every error the gateway answers goes through here, so a client always sees its own API's format.
 */

export type ErrorCode =
  | 'invalid_request'
  | 'invalid_json'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'unauthorized'
  | 'forbidden_model'
  | 'model_not_found'
  | 'not_found'
  | 'conflict'
  | 'budget_exceeded'
  | 'budget_busy'
  | 'rate_limit_exceeded'
  | 'store_unavailable'
  | 'store_reset'
  | 'provider_not_configured'
  | 'provider_unreachable'
  | 'provider_timeout'
  | 'internal_error';

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_json: 400,
  unsupported_media_type: 400,
  payload_too_large: 413,
  unauthorized: 401,
  forbidden_model: 403,
  model_not_found: 404,
  not_found: 404,
  conflict: 409,
  budget_exceeded: 429,
  budget_busy: 429,
  rate_limit_exceeded: 429,
  store_unavailable: 503,
  store_reset: 503,
  provider_not_configured: 502,
  provider_unreachable: 502,
  provider_timeout: 504,
  internal_error: 500,
};

/** OpenAI's `error.type` values, so SDKs classify our errors as they would the provider's. */
const OPENAI_TYPE: Record<ErrorCode, string> = {
  invalid_request: 'invalid_request_error',
  invalid_json: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  unauthorized: 'authentication_error',
  forbidden_model: 'permission_error',
  model_not_found: 'invalid_request_error',
  not_found: 'invalid_request_error',
  conflict: 'invalid_request_error',
  budget_exceeded: 'budget_exceeded',
  budget_busy: 'budget_busy',
  rate_limit_exceeded: 'rate_limit_exceeded',
  store_unavailable: 'server_error',
  store_reset: 'server_error',
  provider_not_configured: 'server_error',
  provider_unreachable: 'server_error',
  provider_timeout: 'server_error',
  internal_error: 'server_error',
};

/** Anthropic's `error.type` values. */
const ANTHROPIC_TYPE: Record<ErrorCode, string> = {
  invalid_request: 'invalid_request_error',
  invalid_json: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  payload_too_large: 'request_too_large',
  unauthorized: 'authentication_error',
  forbidden_model: 'permission_error',
  model_not_found: 'not_found_error',
  not_found: 'not_found_error',
  conflict: 'invalid_request_error',
  budget_exceeded: 'budget_exceeded',
  budget_busy: 'budget_busy',
  rate_limit_exceeded: 'rate_limit_error',
  store_unavailable: 'api_error',
  // Anthropic's body has no code field: the type says what happened.
  store_reset: 'store_reset',
  provider_not_configured: 'api_error',
  provider_unreachable: 'api_error',
  provider_timeout: 'api_error',
  internal_error: 'api_error',
};

/**
 * Google's canonical `error.status` values (google.rpc.Code names) for the Gemini API, which
 * the @google/genai SDK reads next to the HTTP status.
 */
const GOOGLE_STATUS: Record<ErrorCode, string> = {
  invalid_request: 'INVALID_ARGUMENT',
  invalid_json: 'INVALID_ARGUMENT',
  unsupported_media_type: 'INVALID_ARGUMENT',
  payload_too_large: 'INVALID_ARGUMENT',
  unauthorized: 'UNAUTHENTICATED',
  forbidden_model: 'PERMISSION_DENIED',
  model_not_found: 'NOT_FOUND',
  not_found: 'NOT_FOUND',
  conflict: 'ABORTED',
  budget_exceeded: 'RESOURCE_EXHAUSTED',
  budget_busy: 'RESOURCE_EXHAUSTED',
  rate_limit_exceeded: 'RESOURCE_EXHAUSTED',
  store_unavailable: 'UNAVAILABLE',
  store_reset: 'UNAVAILABLE',
  provider_not_configured: 'UNAVAILABLE',
  provider_unreachable: 'UNAVAILABLE',
  provider_timeout: 'DEADLINE_EXCEEDED',
  internal_error: 'INTERNAL',
};

export type ApiFormat = 'openai' | 'anthropic' | 'google';

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  /** Every problem of a rejected body or query, by field (admin API, config reload). */
  readonly problems: Problem[] | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      param?: string | null;
      headers?: Record<string, string>;
      status?: number;
      problems?: Problem[];
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? STATUS[code];
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    this.problems = options.problems;
  }
}

/** One problem of a rejected input: the path in the body (`thresholds[0].at`, `(root)`) and what is wrong. */
export interface Problem {
  field: string;
  message: string;
}

/** A 400 listing every problem at once (the first one's field as `param`). */
export function invalidRequest(problems: Problem[]): GatewayError {
  const count = problems.length;
  const text = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
  return new GatewayError(
    'invalid_request',
    `Invalid request: ${count} problem${count === 1 ? '' : 's'}: ${text}`,
    {
      param: problems[0]?.field ?? null,
      problems,
    },
  );
}

export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}

/** The JSON body for an error, in the format of the API the client speaks. */
export function errorBody(error: GatewayError, format: ApiFormat): unknown {
  if (format === 'anthropic') {
    return { type: 'error', error: { type: ANTHROPIC_TYPE[error.code], message: error.message } };
  }
  if (format === 'google') return googleErrorBody(error);
  const body: Record<string, unknown> = {
    message: error.message,
    type: OPENAI_TYPE[error.code],
    code: error.code,
    param: error.param,
  };
  if (error.problems) body.problems = error.problems;
  return { error: body };
}

/**
 * Google's shape: `{ error: { code, message, status, details } }`. The gateway's own code (e.g.
 * budget_exceeded, which Google's status names only as RESOURCE_EXHAUSTED) goes in an ErrorInfo
 * detail, as Google puts its machine-readable reasons; the field, when known, in a BadRequest one.
 */
function googleErrorBody(error: GatewayError): unknown {
  const details: unknown[] = [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: error.code.toUpperCase(),
      domain: 'llm-budget-gateway',
    },
  ];
  if (error.param !== null) {
    details.push({
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: [{ field: error.param, description: error.message }],
    });
  }
  return {
    error: { code: error.status, message: error.message, status: GOOGLE_STATUS[error.code], details },
  };
}

/** A Web-standard Response for an error. */
export function errorResponse(error: GatewayError, format: ApiFormat, extraHeaders?: Headers): Response {
  const headers = new Headers(extraHeaders);
  headers.set('content-type', 'application/json');
  for (const [name, value] of Object.entries(error.headers)) headers.set(name, value);
  return new Response(JSON.stringify(errorBody(error, format)), { status: error.status, headers });
}
