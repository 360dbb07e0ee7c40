// Shared settings and request helpers for the k6 scripts in this directory (see docs/performance.md).
// Everything is configurable from the environment: k6 run -e BASE_URL=http://host:8080 -e API_KEY=sk-... script.js
import http from 'k6/http';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
// The demo key of config/gateway.yaml (sk-gw-demo-web); use one of your own keys in real tests.
export const API_KEY = __ENV.API_KEY || 'sk-gw-demo-web';
export const MODEL = __ENV.MODEL || 'gpt-4o-mini';
export const MAX_TOKENS = Number(__ENV.MAX_TOKENS || 64);
// Against the mock provider, x-mock-* headers shape its answers (output length, chunks, latency).
export const MOCK = __ENV.MOCK === '1' || __ENV.MOCK === 'true';

// 200 is success; 429 is a budget saying no, which the budget scripts expect and count.
http.setResponseCallback(http.expectedStatuses(200, 429));

export function headers(extra) {
  const out = {
    'content-type': 'application/json',
    authorization: `Bearer ${API_KEY}`,
  };
  if (__ENV.USER_HEADER) out['x-gateway-user'] = __ENV.USER_HEADER;
  return Object.assign(out, extra || {});
}

export function mockHeaders(values) {
  return MOCK ? values : {};
}

export function chatBody(content, options) {
  return JSON.stringify(
    Object.assign(
      {
        model: MODEL,
        max_tokens: MAX_TOKENS,
        messages: [
          { role: 'system', content: 'You are a concise assistant.' },
          { role: 'user', content },
        ],
      },
      options || {},
    ),
  );
}

export function chat(content, options, extraHeaders, tags) {
  return http.post(`${BASE_URL}/v1/chat/completions`, chatBody(content, options), {
    headers: headers(extraHeaders),
    tags: tags || {},
  });
}

/** The error code of an OpenAI-format error body, or undefined. */
export function errorCode(response) {
  try {
    const body = response.json();
    return body?.error?.code;
  } catch (_) {
    return undefined;
  }
}
