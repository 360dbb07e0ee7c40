/**
 * The telemetry section compiled: an empty endpoint turns tracing off; otherwise the OTLP/HTTP
 * traces URL, taking the endpoint as a base URL (as OTEL_EXPORTER_OTLP_ENDPOINT) unless it names
 * the traces path itself (as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).
 */
import type { RuntimeTelemetry } from './runtime.js';
import type { ConfigFile } from './schema.js';

const TRACES_PATH = '/v1/traces';

export function compileTelemetry(telemetry: ConfigFile['telemetry']): RuntimeTelemetry {
  const otlp = telemetry.otlp;
  const endpoint = otlp.endpoint.trim();
  return {
    otlp: endpoint
      ? {
          url: tracesUrl(endpoint),
          protocol: otlp.protocol,
          headers: otlp.headers,
          timeoutMs: otlp.timeout_ms,
          maxQueueSize: otlp.max_queue_size,
          maxExportBatchSize: Math.min(otlp.max_export_batch_size, otlp.max_queue_size),
          scheduledDelayMs: otlp.scheduled_delay_ms,
        }
      : undefined,
    captureContent: telemetry.capture_content,
    serviceName: telemetry.service_name,
  };
}

function tracesUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  return trimmed.endsWith(TRACES_PATH) ? trimmed : trimmed + TRACES_PATH;
}

export function telemetryProblems(telemetry: ConfigFile['telemetry']): string[] {
  const problems: string[] = [];
  const { endpoint, max_export_batch_size, max_queue_size } = telemetry.otlp;
  if (endpoint.trim() && !/^https?:\/\/[^/\s]+/i.test(endpoint.trim())) {
    problems.push(`telemetry.otlp.endpoint: expected an http(s) URL (or "" for off), got ${endpoint}`);
  }
  if (max_export_batch_size > max_queue_size) {
    problems.push('telemetry.otlp.max_export_batch_size: expected at most max_queue_size');
  }
  return problems;
}
