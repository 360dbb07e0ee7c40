/**
 * The opt-in catalogue refresh (`pricing.refresh_url`): fetches the catalogue's data.json now and
 * then every `refresh_interval_ms`, and swaps it in only when it parses and prices a model. A failed
 * refresh (network, status, bad JSON, bad shape) keeps the last good data: bundled or refreshed.
 * Off by default, so a gateway makes no network call for prices unless told to.
 */
import type { Logger } from 'pino';
import type { PriceCatalogue } from './catalogue.js';

export interface RefreshOptions {
  url: string;
  intervalMs: number;
  catalogue: PriceCatalogue;
  logger: Pick<Logger, 'info' | 'warn'>;
  fetch?: typeof fetch;
  clock?: () => number;
  /** One fetch gives up after this long. */
  timeoutMs?: number;
}

/** One refresh; true when the data was replaced. Never throws. */
export async function refreshCatalogue(options: RefreshOptions): Promise<boolean> {
  const doFetch = options.fetch ?? fetch;
  const clock = options.clock ?? Date.now;
  try {
    const response = await doFetch(options.url, { signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
    if (!response.ok) throw new Error(`status ${response.status}`);
    const data: unknown = await response.json();
    const version = `refresh:${new Date(clock()).toISOString()}`;
    options.catalogue.replace(data, version);
    options.logger.info({ msg: 'price catalogue refreshed', version });
    return true;
  } catch (error) {
    // The URL may carry a token in its query string: log its origin and path only.
    options.logger.warn({
      msg: 'price catalogue refresh failed; keeping the last good data',
      url: safeUrl(options.url),
      version: options.catalogue.version,
      error: (error as Error).message,
    });
    return false;
  }
}

function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

/** Refreshes at once and then on the interval; the returned function stops it. */
export function startCatalogueRefresh(options: RefreshOptions): () => void {
  void refreshCatalogue(options);
  const timer = setInterval(() => void refreshCatalogue(options), options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
