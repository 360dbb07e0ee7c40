// Streaming: chat completions with stream: true. Time to first byte (http_req_waiting) stands for
// time to first token; checks that streams end with [DONE] and that a client that did not ask for
// usage does not get the usage chunk the gateway asked for.
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e MOCK=1 load/streaming.js
import { check } from 'k6';
import { chat, mockHeaders } from './common.js';

export const options = {
  vus: Number(__ENV.VUS || 32),
  duration: __ENV.DURATION || '1m',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_waiting: [`p(95)<${Number(__ENV.TTFB_P95_MS || 100)}`],
    checks: ['rate>0.99'],
  },
};

export default function () {
  const response = chat(
    `Stream a short poem, number ${__ITER}.`,
    { stream: true },
    mockHeaders({ 'x-mock-output-tokens': '50', 'x-mock-chunks': '50' }),
  );
  check(response, {
    'is 200': (r) => r.status === 200,
    'is an event stream': (r) => String(r.headers['Content-Type']).startsWith('text/event-stream'),
    'ends with [DONE]': (r) => String(r.body).trimEnd().endsWith('data: [DONE]'),
    'no usage chunk it did not ask for': (r) => !String(r.body).includes('"usage":{'),
    'has the estimated cost': (r) => r.headers['X-Gateway-Estimated-Cost-Usd'] !== undefined,
  });
}
