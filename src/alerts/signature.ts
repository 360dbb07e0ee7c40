/**
 * Webhook signatures: `x-gateway-signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the
 * webhook's secret>`. The body carries the alert's id and time, so a receiver that keeps the ids it
 * has seen and ignores old times is safe against replays as well as forgeries.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-gateway-signature';
/** Unix seconds when this attempt was sent (informational; retries send the same body). */
export const TIMESTAMP_HEADER = 'x-gateway-timestamp';
export const EVENT_ID_HEADER = 'x-gateway-event-id';
export const EVENT_TYPE_HEADER = 'x-gateway-event';

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** What a receiver does: recompute over the raw bytes and compare in constant time. */
export function verifySignature(body: string | Buffer, secret: string, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(body).digest('hex'));
  const given = Buffer.from(header.slice('sha256='.length));
  return given.length === expected.length && timingSafeEqual(given, expected);
}
