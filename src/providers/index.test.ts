import { describe, expect, it } from 'vitest';
import { adapterForPath, adapters, responseHeadersForClient, upstreamHeaders } from './index.js';

describe('adapterForPath', () => {
  it('maps each proxy path to its adapter', () => {
    expect(adapterForPath('/v1/chat/completions')?.shape).toBe('chat');
    expect(adapterForPath('/v1/completions')?.shape).toBe('completions');
    expect(adapterForPath('/v1/embeddings')?.shape).toBe('embeddings');
    expect(adapterForPath('/v1/responses')?.shape).toBe('responses');
    const messages = adapterForPath('/v1/messages');
    expect([messages?.shape, messages?.format, messages?.provider]).toEqual([
      'messages',
      'anthropic',
      'anthropic',
    ]);
    expect(adapterForPath('/v1/messages/')).toBe(messages);
    expect(adapterForPath('/v1/models')).toBeUndefined();
    expect(adapters).toHaveLength(5);
  });
});

function clientHeaders(): Headers {
  return new Headers({
    authorization: 'Bearer sk-gw-demo-web',
    'x-api-key': 'sk-gw-demo-web',
    host: 'gateway.local:8080',
    'content-length': '123',
    connection: 'keep-alive, x-hop-custom',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    te: 'trailers',
    upgrade: 'h2c',
    'proxy-authorization': 'Basic abc',
    'x-hop-custom': 'drop me',
    cookie: 'session=1',
    'x-gateway-user': 'alice',
    'x-gateway-tags': 'a,b',
    'content-type': 'application/json',
    accept: 'text/event-stream',
    'user-agent': 'OpenAI/JS 6.49.0',
    'x-stainless-lang': 'js',
    'x-stainless-retry-count': '0',
    'openai-organization': 'org-1',
    'openai-project': 'proj-1',
    'anthropic-beta': 'prompt-caching-2024-07-31',
    'x-mock-delay-ms': '20',
  });
}

describe('upstreamHeaders', () => {
  it('drops client credentials, hop-by-hop, x-gateway-* and cookies; sets the OpenAI key', () => {
    const headers = upstreamHeaders('openai', 'sk-real-openai', clientHeaders(), {});
    expect(headers.get('authorization')).toBe('Bearer sk-real-openai');
    for (const name of [
      'x-api-key',
      'host',
      'content-length',
      'connection',
      'keep-alive',
      'transfer-encoding',
      'te',
      'upgrade',
      'proxy-authorization',
      'x-hop-custom',
      'cookie',
      'x-gateway-user',
      'x-gateway-tags',
      'anthropic-version',
      'anthropic-beta',
      'openai-organization',
      'openai-project',
    ]) {
      expect(headers.has(name), name).toBe(false);
    }
    for (const name of [
      'content-type',
      'accept',
      'user-agent',
      'x-stainless-lang',
      'x-stainless-retry-count',
      'x-mock-delay-ms',
    ]) {
      expect(headers.get(name), name).toBe(clientHeaders().get(name));
    }
  });

  it('sets x-api-key and anthropic-version (the client’s, else the default) for Anthropic', () => {
    const headers = upstreamHeaders('anthropic', 'sk-ant-real', clientHeaders(), {});
    expect(headers.get('x-api-key')).toBe('sk-ant-real');
    expect(headers.has('authorization')).toBe(false);
    expect(headers.get('anthropic-version')).toBe('2023-06-01');
    expect(headers.get('anthropic-beta')).toBe('prompt-caching-2024-07-31');
    const client = clientHeaders();
    client.set('anthropic-version', '2024-01-01');
    expect(upstreamHeaders('anthropic', 'k', client, {}).get('anthropic-version')).toBe('2024-01-01');
  });

  it('adds extra headers but never lets them replace the credential', () => {
    const headers = upstreamHeaders('openai', 'sk-real', new Headers(), {
      'openai-organization': 'org-config',
      authorization: 'Bearer nope',
    });
    expect(headers.get('openai-organization')).toBe('org-config');
    expect(headers.get('authorization')).toBe('Bearer sk-real');
  });
});

describe('responseHeadersForClient', () => {
  it('drops hop-by-hop, length and encoding; keeps what is on the allow-list', () => {
    const upstream = new Headers({
      'content-type': 'text/event-stream',
      'content-length': '999',
      'content-encoding': 'gzip',
      connection: 'keep-alive, x-internal',
      'x-internal': 'secret',
      'transfer-encoding': 'chunked',
      'x-request-id': 'req_123',
      'openai-processing-ms': '42',
      'x-ratelimit-remaining-tokens': '100',
    });
    const headers = responseHeadersForClient(upstream, 'openai');
    expect([...headers.keys()].sort()).toEqual([
      'content-type',
      'openai-processing-ms',
      'x-ratelimit-remaining-tokens',
      'x-request-id',
    ]);
  });
});
