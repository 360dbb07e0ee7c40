import { get_encoding } from 'tiktoken';

const o200k = get_encoding('o200k_base');
const cl100k = get_encoding('cl100k_base');

/** Reference counts straight from tiktoken, independent of the code under test. */
export function tok(text: string, encoding: 'o200k_base' | 'cl100k_base' = 'o200k_base'): number {
  return (encoding === 'o200k_base' ? o200k : cl100k).encode_ordinary(text).length;
}

/** Realistic English prose and TypeScript, repeated with variations until `chars` long. */
export function realisticText(chars: number): string {
  const pieces = [
    'The gateway estimates the worst-case cost of every request before it reaches the provider, ',
    'reserving that amount against each budget the request falls under. ',
    'When the response arrives, the reservation is replaced by the actual cost.\n\n',
    'export function settle(reservation: Reservation, usage: Usage): bigint {\n',
    '  const cost = usage.inputTokens * price.input + usage.outputTokens * price.output;\n',
    '  return cost > reservation.amount ? cost : reservation.amount; // never negative\n}\n',
    'Budgets reset on calendar boundaries in their own timezone (e.g. Europe/Berlin), ',
    'and thresholds such as 80% can downgrade gpt-4o to gpt-4o-mini automatically.\n',
  ];
  let out = '';
  let i = 0;
  while (out.length < chars) {
    out += pieces[i % pieces.length]!.replace('gateway', `gateway #${i}`);
    i += 1;
  }
  return out.slice(0, chars);
}
