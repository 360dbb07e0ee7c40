import { describe, expect, it } from 'vitest';
import { resolveClientIp, signVisitor, verifiedVisitor, visitorOfIp } from './client-ip.js';

const LB = ['10.0.0.0/8', '2001:db8:ffff::/48'];

describe('resolveClientIp', () => {
  it('takes the rightmost hop not a trusted proxy; what the client wrote left of it is ignored', () => {
    expect(resolveClientIp('10.0.0.5', '1.2.3.4, 203.0.113.7, 10.9.9.9', LB, false)).toBe('203.0.113.7');
    expect(resolveClientIp('10.0.0.5', '203.0.113.7', LB, false)).toBe('203.0.113.7');
  });

  it('ignores the header when the peer is not a trusted proxy', () => {
    expect(resolveClientIp('198.51.100.2', '203.0.113.7', LB, false)).toBe('198.51.100.2');
    expect(resolveClientIp('::ffff:198.51.100.2', '203.0.113.7', LB, true)).toBe('198.51.100.2');
  });

  it('stops at a malformed hop: the proxy that wrote it answers for it; never a non-IP identity', () => {
    expect(resolveClientIp('10.0.0.5', 'alice, 10.1.1.1', LB, false)).toBe('10.1.1.1');
    expect(resolveClientIp('10.0.0.5', 'not-an-ip', LB, false)).toBe('10.0.0.5');
    expect(resolveClientIp('unix-socket', undefined, LB, false)).toBeUndefined();
  });

  it('with trust_proxy and no list, trusts the one proxy in front: the rightmost hop', () => {
    expect(resolveClientIp('127.0.0.1', '1.2.3.4, 203.0.113.9', [], true)).toBe('203.0.113.9');
    expect(resolveClientIp('127.0.0.1', '1.2.3.4, 203.0.113.9', [], false)).toBe('127.0.0.1');
  });

  it('handles IPv6 proxies and clients', () => {
    expect(resolveClientIp('2001:db8:ffff::1', '2001:db8:1:2:3:4:5:6', LB, false)).toBe(
      '2001:db8:1:2:3:4:5:6',
    );
  });
});

describe('visitorOfIp', () => {
  it('keeps IPv4 and groups IPv6 by /64', () => {
    expect(visitorOfIp('203.0.113.7')).toBe('203.0.113.7');
    expect(visitorOfIp('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(visitorOfIp('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe(visitorOfIp('2001:db8:1:2::9'));
    expect(visitorOfIp('2001:db8::1')).toBe('2001:db8:0:0::/64');
  });
});

describe('signed visitor ids', () => {
  it('accepts the app-signed id only', () => {
    const secret = 'a-secret-of-sixteen+';
    expect(verifiedVisitor(`v.1.${signVisitor('v.1', secret)}`, secret)).toBe('v.1');
    expect(verifiedVisitor(`v.2.${signVisitor('v.1', secret)}`, secret)).toBeUndefined();
    expect(verifiedVisitor('v.1', secret)).toBeUndefined();
    expect(verifiedVisitor(`v.1.${signVisitor('v.1', 'another-secret-xxxx')}`, secret)).toBeUndefined();
  });
});
