/**
 * Money is integer nano-USD (1e-9 USD) everywhere inside the gateway; USD decimals only at the edges.
 *
 * Prices are kept as integer pico-USD per token (1e-12 USD). Providers publish USD per million tokens,
 * so $2.50/M is 2.5e-6 USD/token = 2_500_000 pico-USD/token: exact for any price with up to six
 * decimals, and a token count times a price stays far below 2^53 for any realistic request.
 */

export type Nano = number;
export type PicoPerToken = number;

export const NANO_PER_USD = 1_000_000_000;
const PICO_PER_NANO = 1000;

/** USD (as written in config or an API body) to nano-USD, rounded to the nearest nano. */
export function usdToNano(usd: number): Nano {
  return Math.round(usd * NANO_PER_USD);
}

/** nano-USD to a USD number for JSON and headers. */
export function nanoToUsd(nano: Nano): number {
  return nano / NANO_PER_USD;
}

/** Fixed nine-decimal USD string for headers, exact (no float formatting artefacts). */
export function formatUsd(nano: Nano): string {
  const negative = nano < 0;
  const abs = Math.abs(Math.trunc(nano));
  const whole = Math.floor(abs / NANO_PER_USD);
  const frac = String(abs % NANO_PER_USD).padStart(9, '0');
  return `${negative ? '-' : ''}${whole}.${frac}`;
}

/** USD per million tokens (config) to integer pico-USD per token. */
export function pricePerMillionToPico(usdPerMillion: number): PicoPerToken {
  return Math.round(usdPerMillion * 1_000_000);
}

/** One priced component of a request: a token count and its price. */
export interface PricedTokens {
  tokens: number;
  pico: PicoPerToken;
}

/** Sum of tokens x price, rounded up once to the next nano-USD (a request's cost is never rounded down). */
export function costNano(parts: readonly PricedTokens[]): Nano {
  let pico = 0;
  for (const part of parts) pico += part.tokens * part.pico;
  if (!Number.isSafeInteger(pico)) return costNanoBig(parts);
  return Math.ceil(pico / PICO_PER_NANO);
}

function costNanoBig(parts: readonly PricedTokens[]): Nano {
  let pico = 0n;
  for (const part of parts) pico += BigInt(part.tokens) * BigInt(part.pico);
  const nano = (pico + BigInt(PICO_PER_NANO) - 1n) / BigInt(PICO_PER_NANO);
  return Number(nano);
}

/**
 * Largest output-token count whose cost, added to `fixedPico`, fits in `availableNano`.
 * Used to fit an output cap to what a budget can still afford.
 */
export function affordableTokens(availableNano: Nano, fixedPico: number, outputPico: PicoPerToken): number {
  if (availableNano <= 0) return 0;
  const room = availableNano * PICO_PER_NANO - fixedPico;
  if (room <= 0) return 0;
  if (outputPico <= 0) return Number.MAX_SAFE_INTEGER;
  return Math.floor(room / outputPico);
}
