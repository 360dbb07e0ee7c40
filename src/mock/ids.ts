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
