/**
 * Comparing a presented secret (admin token, metrics token) with the configured one. Both are hashed
 * first so the comparison always runs over 32 bytes: neither an early return on a length mismatch nor
 * the byte loop tells an attacker how long the secret is or how much of a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export function secretEquals(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
