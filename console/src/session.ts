/**
 * The admin token lives in sessionStorage only: it survives a reload of this tab and nothing else
 * (no other tab, no cookie, never sent anywhere but the Authorization header of admin calls).
 */
const KEY = 'llm-gateway-admin-token';

export function sessionToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function saveToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}
