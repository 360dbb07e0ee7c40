/**
 * Where the gateway sends requests on its own (provider base URLs, alert webhooks) is checked when
 * the config loads: only http(s), and never a link-local address. A `file:` or `gopher:` URL, or the
 * cloud metadata service at 169.254.169.254, is a way to read what the gateway can reach, not a
 * provider. The WHATWG parser has already normalised numeric forms (`http://2852039166/`,
 * `http://0xa9.254.169.254/`) to dotted IPv4, so checking the parsed hostname covers them.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The problem with an outbound URL, or null. `path` names the config field. */
export function outboundUrlProblem(path: string, raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `${path}: expected an http(s) URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `${path}: expected an http(s) URL, got the ${url.protocol} scheme`;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isLinkLocal(host))
    return `${path}: ${host} is a link-local address (169.254.0.0/16, fe80::/10: cloud metadata and the like), refused as a destination`;
  return null;
}

export function isLinkLocal(host: string): boolean {
  if (isIPv4(host)) return host.startsWith('169.254.');
  if (!isIPv6(host)) return false;
  const lower = host.toLowerCase();
  // fe80::/10: the first 10 bits are 1111 1110 10, so fe80 to febf.
  if (/^fe[89ab][0-9a-f]?:/.test(lower)) return true;
  // An IPv4-mapped address reaches the IPv4 host (::ffff:169.254.169.254, or its hex form).
  const mapped = /^::ffff:(.+)$/.exec(lower)?.[1];
  if (!mapped) return false;
  if (isIPv4(mapped)) return mapped.startsWith('169.254.');
  return /^a9fe:/.test(mapped);
}
