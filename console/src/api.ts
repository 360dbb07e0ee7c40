/**
 * Every call the console makes goes through here: the admin API on this origin, the session's
 * token as a Bearer header. The console can do nothing the API does not allow.
 */
import { sessionToken } from './session.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let onUnauthorized: (message: string) => void = () => {};

/** main.ts signs the user out (with this message) when the token stops being accepted. */
export function whenUnauthorized(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

export const WRONG_TOKEN =
  'The gateway did not accept this admin token (401). Check the token; an empty admin token in the config turns the admin API off.';

/** The readable part of an error body in any of the gateway's shapes. */
function errorMessage(status: number, body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const problems = b.problems;
    if (Array.isArray(problems) && problems.length > 0) return problems.map(String).join('; ');
    const error = b.error;
    if (typeof error === 'string') return error;
    if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
      return (error as { message: string }).message;
    }
    if (typeof b.message === 'string') return b.message;
  }
  return `The gateway answered ${status}.`;
}

export async function call<T>(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
  token: string | null = sessionToken(),
): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'Cannot reach the gateway. Is it running?');
  }
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (response.status === 401) {
    // A signed-in session whose token stopped working is signed out; a sign-in attempt just fails.
    if (token !== null && token === sessionToken()) onUnauthorized(WRONG_TOKEN);
    throw new ApiError(401, WRONG_TOKEN);
  }
  if (!response.ok) throw new ApiError(response.status, errorMessage(response.status, parsed));
  return parsed as T;
}

export const get = <T>(path: string) => call<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => call<T>('POST', path, body);
export const del = <T>(path: string) => call<T>('DELETE', path);

/** Query strings without undefined values. */
export function query(params: Record<string, string | number | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined);
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}`;
}
