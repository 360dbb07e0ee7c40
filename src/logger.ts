/**
 * Structured logs (pino). Request lines carry the ledger's fields, which hold nothing secret;
 * the redact list is a second guard for anything that might carry a credential.
 */
import pino, { type Logger } from 'pino';
import type { RequestRecord } from './proxy/record.js';

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: [
          'headers.authorization',
          'headers["x-api-key"]',
          '*.authorization',
          '*["x-api-key"]',
          'api_key',
          '*.api_key',
          'token',
          '*.token',
          'secret',
          '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

export function logRequest(logger: Logger, record: RequestRecord): void {
  const level = record.status >= 500 ? 'error' : record.status >= 400 ? 'warn' : 'info';
  logger[level]({ msg: 'request', ...record });
}
