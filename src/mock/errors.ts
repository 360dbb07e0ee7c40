/** Error bodies exactly as each provider sends them. */

export type WireFormat = 'openai' | 'anthropic' | 'google';

export interface MockError {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

interface OpenAIErrorFields {
  message: string;
  type: string;
  param?: string | null;
  code?: string | null;
}

export function openaiError(status: number, e: OpenAIErrorFields): MockError {
  return {
    status,
    body: { error: { message: e.message, type: e.type, param: e.param ?? null, code: e.code ?? null } },
  };
}

export function anthropicError(status: number, type: string, message: string, requestId?: string): MockError {
  const body: Record<string, unknown> = { type: 'error', error: { type, message } };
  if (requestId !== undefined) body.request_id = requestId;
  return { status, body };
}

/** google.rpc.Code names by HTTP status, as the Gemini API pairs them. */
const GOOGLE_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** Google's error body: `{ error: { code, message, status } }`. */
export function googleError(status: number, message: string): MockError {
  const name = GOOGLE_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
  return { status, body: { error: { code: status, message, status: name } } };
}

/** Azure OpenAI's own errors (auth, routing): `{ error: { code: "401", message } }`. */
export function azureError(status: number, message: string): MockError {
  return { status, body: { error: { code: String(status), message } } };
}

const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const OPENAI_ERRORS: Record<number, OpenAIErrorFields> = {
  400: { type: 'invalid_request_error', message: 'Invalid request (injected by the mock provider).' },
  401: {
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message:
      'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
  },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory', message: 'Forbidden.' },
  404: {
    type: 'invalid_request_error',
    code: 'model_not_found',
    message: 'The model does not exist or you do not have access to it.',
  },
  429: {
    type: 'requests',
    code: 'rate_limit_exceeded',
    message: 'Rate limit reached for requests. Please try again in 1s.',
  },
  500: {
    type: 'server_error',
    code: 'server_error',
    message: 'The server had an error while processing your request. Sorry about that!',
  },
  503: {
    type: 'server_error',
    code: 'service_unavailable',
    message: 'The engine is currently overloaded, please try again later.',
  },
};

/** The error a `x-mock-fail: status:CODE` request gets, in the format of the API it called. */
export function injectedError(format: WireFormat, status: number, requestId: string): MockError {
  const headers: Record<string, string> = status === 429 ? { 'retry-after': '1' } : {};
  if (format === 'google')
    return { ...googleError(status, `Injected ${status} from the mock provider.`), headers };
  if (format === 'anthropic') {
    const type = ANTHROPIC_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
    return {
      ...anthropicError(status, type, `Injected ${status} (${type}) from the mock provider.`, requestId),
      headers,
    };
  }
  const fields = OPENAI_ERRORS[status] ?? {
    type: status >= 500 ? 'server_error' : 'invalid_request_error',
    message: `Injected ${status} from the mock provider.`,
  };
  return { ...openaiError(status, fields), headers };
}

export function invalidRequest(format: WireFormat, message: string, param: string | null = null): MockError {
  if (format === 'google') return googleError(400, message);
  return format === 'anthropic'
    ? anthropicError(400, 'invalid_request_error', message)
    : openaiError(400, { type: 'invalid_request_error', message, param });
}

export function notFound(format: WireFormat, method: string, path: string): MockError {
  if (format === 'google') return googleError(404, `Method not found: ${method} ${path}`);
  return format === 'anthropic'
    ? anthropicError(404, 'not_found_error', `Not Found: ${method} ${path}`)
    : openaiError(404, {
        type: 'invalid_request_error',
        code: 'unknown_url',
        message: `Invalid URL (${method} ${path})`,
      });
}

export function malformedJson(format: WireFormat): MockError {
  if (format === 'google') return googleError(400, 'Invalid JSON payload received.');
  return format === 'anthropic'
    ? anthropicError(
        400,
        'invalid_request_error',
        'There was an error parsing the body of your request as JSON.',
      )
    : openaiError(400, {
        type: 'invalid_request_error',
        message:
          "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
      });
}

export function unauthorized(format: WireFormat, provided: boolean): MockError {
  if (format === 'google') {
    return provided
      ? googleError(400, 'API key not valid. Please pass a valid API key.')
      : googleError(
          403,
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        );
  }
  if (format === 'anthropic') {
    return anthropicError(
      401,
      'authentication_error',
      provided ? 'invalid x-api-key' : 'x-api-key header is required',
    );
  }
  return provided
    ? openaiError(401, OPENAI_ERRORS[401]!)
    : openaiError(401, {
        type: 'invalid_request_error',
        message:
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      });
}
