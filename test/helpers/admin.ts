/**
 * Talking to the admin API in tests: plain fetch with the admin token (or another), JSON both ways.
 */
import type { Gateway } from '../../src/gateway.js';
import { closeStores, createStores } from '../../src/store/index.js';
import type { MetaSnapshot } from '../../src/store/meta.js';
import { ADMIN_TOKEN } from './stack.js';

export interface AdminAnswer<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export async function adminCall<T = any>(
  gateway: { url: string },
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` },
): Promise<AdminAnswer<T>> {
  const response = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed as T, text, headers: response.headers };
}

/** The stored API records, read with a fresh metadata store of the gateway's config (not its cache). */
export async function storedMeta(gateway: Gateway): Promise<MetaSnapshot> {
  const stores = createStores(gateway.registry.fileConfig());
  try {
    return await stores.meta.snapshot();
  } finally {
    await closeStores(stores);
  }
}

/** The problem fields of a 400 answer. */
export function problemFields(answer: AdminAnswer): string[] {
  return ((answer.body?.error?.problems ?? []) as Array<{ field: string }>).map((p) => p.field).sort();
}
