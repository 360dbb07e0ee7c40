// Sustained load: a constant arrival rate of small chat requests for a while, with latency and
// error thresholds. RATE (requests/s), DURATION and VUS (the pool serving the rate) are settable.
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=200 -e DURATION=5m load/sustained.js
import { check } from 'k6';
import { chat, mockHeaders } from './common.js';

const RATE = Number(__ENV.RATE || 100);

export const options = {
  scenarios: {
    sustained: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: __ENV.DURATION || '2m',
      preAllocatedVUs: Number(__ENV.VUS || 64),
      maxVUs: Number(__ENV.MAX_VUS || 256),
    },
  },
  thresholds: {
    // Against the mock these hold with room to spare; against a real provider raise P99_MS.
    http_req_failed: ['rate<0.01'],
    http_req_duration: [`p(99)<${Number(__ENV.P99_MS || 250)}`],
    dropped_iterations: [`count<${Math.ceil(RATE)}`],
    checks: ['rate>0.99'],
  },
};

export default function () {
  const response = chat(
    `Summarise budget report #${__VU}-${__ITER} in one line.`,
    {},
    mockHeaders({ 'x-mock-output-tokens': '20' }),
  );
  check(response, {
    'is 200': (r) => r.status === 200,
    'is billed': (r) => r.headers['X-Gateway-Cost-Usd'] !== undefined,
  });
}
