/** The telemetry section: off by default, the OTLP traces URL from a base or full endpoint, checks. */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './load.js';

const telemetry = (yaml: string) => parseConfig(`telemetry:\n${yaml}`, 't', {}).telemetry;

describe('telemetry config', () => {
  it('is off without an endpoint, with the documented defaults', () => {
    expect(parseConfig('{}', 't', {}).telemetry).toEqual({
      otlp: undefined,
      captureContent: false,
      serviceName: 'llm-budget-gateway',
    });
    expect(telemetry('  otlp: { endpoint: "" }').otlp).toBeUndefined();
  });

  it('takes a base URL (as OTEL_EXPORTER_OTLP_ENDPOINT) or the traces URL itself', () => {
    expect(telemetry('  otlp: { endpoint: "http://collector:4318" }').otlp).toEqual({
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      timeoutMs: 10_000,
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
      scheduledDelayMs: 1000,
    });
    const full = telemetry(
      '  otlp: { endpoint: "https://otlp.example.com/v1/traces/", protocol: http/json, headers: { x-key: abc } }\n  capture_content: true\n  service_name: gw-eu',
    );
    expect(full.otlp).toMatchObject({
      url: 'https://otlp.example.com/v1/traces',
      protocol: 'http/json',
      headers: { 'x-key': 'abc' },
    });
    expect(full).toMatchObject({ captureContent: true, serviceName: 'gw-eu' });
  });

  it('lists a bad endpoint, protocol and batch size by path', () => {
    expect(problemsOf('  otlp: { endpoint: "http://c:4318", protocol: grpc }')).toEqual([
      expect.stringMatching(/^telemetry\.otlp\.protocol: /),
    ]);
    expect(
      problemsOf('  otlp: { endpoint: "collector:4318", max_queue_size: 10, max_export_batch_size: 20 }'),
    ).toEqual([
      'telemetry.otlp.endpoint: expected an http(s) URL (or "" for off), got collector:4318',
      'telemetry.otlp.max_export_batch_size: expected at most max_queue_size',
    ]);
  });
});

function problemsOf(yaml: string): string[] {
  try {
    telemetry(yaml);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}
