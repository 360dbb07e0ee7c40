/** Cheap unique ids in the providers' shapes: a per-process random prefix and a counter. */
import { randomBytes } from 'node:crypto';

const prefix = randomBytes(6).toString('hex');
let counter = 0;

export function newId(kind: string): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${kind}${prefix}${counter.toString(36).padStart(6, '0')}`;
}

export const SYSTEM_FINGERPRINT = `fp_${prefix.slice(0, 10)}`;

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** `created` of every answer to a request with `x-mock-seed` (a fixed instant, not today's date). */
export const SEEDED_CREATED = 1_700_000_000;

/**
 * Ids and timestamps for one answer. With `x-mock-seed: S` they depend only on S and the order of
 * asking (`<kind>S_1`, `<kind>S_2`, ...; created SEEDED_CREATED), so a plain answer and the
 * streamed answer to the same request compare strictly; without a seed, unique ids and the clock.
 */
export class AnswerIds {
  private issued = 0;

  constructor(private readonly seed: string | undefined) {}

  id(kind: string): string {
    if (this.seed === undefined) return newId(kind);
    this.issued++;
    return `${kind}${this.seed}_${this.issued}`;
  }

  created(): number {
    return this.seed === undefined ? nowSeconds() : SEEDED_CREATED;
  }
}
