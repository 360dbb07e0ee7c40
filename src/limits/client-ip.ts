/**
 * Who a trial visitor is, in a form a client cannot rotate for free:
 * - the client address is the rightmost X-Forwarded-For hop that is not one of our own proxies
 *   (anonymous.trusted_proxies): every hop left of it was written by the client and proves nothing;
 * - every hop must be a valid IP, else the chain stops there (a non-IP value never becomes an id);
 * - an IPv6 client is grouped by its /64 (one subscriber gets a whole /64 to rotate through);
 * - with anonymous.visitor_secret, a header id must carry the app's HMAC, so ids cannot be invented.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { parseCidr } from '../config/limits.js';

const lists = new WeakMap<readonly string[], BlockList>();

/** The trusted proxies as a BlockList, built once per compiled config. */
function trustedList(cidrs: readonly string[]): BlockList {
  let list = lists.get(cidrs);
  if (!list) {
    list = new BlockList();
    for (const text of cidrs) {
      const cidr = parseCidr(text);
      if (cidr) list.addSubnet(cidr.address, cidr.prefix, cidr.family === 4 ? 'ipv4' : 'ipv6');
    }
    lists.set(cidrs, list);
  }
  return list;
}

/** "::ffff:1.2.3.4" is the IPv4 client 1.2.3.4 (a dual-stack socket's view of it). */
function plain(address: string): string {
  const trimmed = address.trim().replace(/^\[(.*)\]$/, '$1');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  return mapped ? mapped[1]! : trimmed;
}

function isTrusted(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The client address: the socket's peer, unless the peer is a trusted proxy (or `trustProxy` is set
 * with no list: the peer is the one load balancer), then the rightmost forwarded hop not trusted.
 * Undefined when no valid address is known.
 */
export function resolveClientIp(
  peer: string | undefined,
  forwardedFor: string | undefined,
  trusted: readonly string[],
  trustProxy: boolean,
): string | undefined {
  const from = peer === undefined ? undefined : plain(peer);
  const validPeer = from !== undefined && isIP(from) !== 0 ? from : undefined;
  const list = trustedList(trusted);
  const peerIsProxy = trusted.length > 0 ? validPeer !== undefined && isTrusted(list, validPeer) : trustProxy;
  if (!peerIsProxy || !forwardedFor) return validPeer;
  const hops = forwardedFor.split(',').map(plain);
  let nearest = validPeer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    // A malformed hop: nothing left of it can be believed; the last proxy that wrote it answers for it.
    if (isIP(hop) === 0) return nearest;
    // Without a list only the one proxy in front is trusted: its hop is the client.
    if (trusted.length === 0 || !isTrusted(list, hop)) return hop;
    nearest = hop;
  }
  return nearest;
}

/** The trial visitor id of an address: IPv4 as is, IPv6 grouped by its /64. */
export function visitorOfIp(address: string): string {
  if (isIP(address) !== 6) return address;
  const groups = expandIpv6(address);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

function expandIpv6(address: string): string[] {
  const [head = '', tail] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 tail (::ffff:1.2.3.4 forms) takes two groups; only the /64 prefix matters here.
  const missing = 8 - left.length - right.length;
  const groups = [...left, ...Array.from({ length: Math.max(0, missing) }, () => '0'), ...right];
  return groups.map((g) => (g.includes('.') ? g : g.replace(/^0+(?=.)/, '')));
}

/** The HMAC an app signs a visitor id with: hex HMAC-SHA256(secret, id). */
export function signVisitor(id: string, secret: string): string {
  return createHmac('sha256', secret).update(id).digest('hex');
}

/** "<id>.<hex hmac>" checked in constant time; the id, or undefined when the signature is wrong. */
export function verifiedVisitor(value: string, secret: string): string | undefined {
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const id = value.slice(0, dot);
  const given = Buffer.from(value.slice(dot + 1), 'utf8');
  const expected = Buffer.from(signVisitor(id, secret), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected) ? id : undefined;
}
