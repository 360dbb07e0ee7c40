/**
 * Small helpers shared by the adapters: request field checks that answer a 400 naming the field, and
 * tolerant readers for provider JSON (a missing or odd field counts as 0, never throws).
 */
import { GatewayError } from '../errors.js';
import type { RequestBody } from './types.js';

/**
 * Most messages, input items or prompts one request may carry: above what any provider accepts,
 * and refused before a token is counted, so a body of a million tiny items costs nothing.
 */
export const MAX_LIST_ITEMS = 10_000;

/** A 400 naming the field when a list is longer than MAX_LIST_ITEMS; null otherwise. */
export function checkListLength(field: string, value: unknown): GatewayError | null {
  if (!Array.isArray(value) || value.length <= MAX_LIST_ITEMS) return null;
  return invalid(field, `Invalid '${field}': at most ${MAX_LIST_ITEMS} items, got ${value.length}.`);
}

export function invalid(param: string, message: string): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Absent means undefined or null: the providers accept an explicit null for optional fields. */
export function isAbsent(value: unknown): boolean {
  return value === undefined || value === null;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

export function checkModel(body: RequestBody): GatewayError | null {
  const model = body.model;
  if (isAbsent(model)) return invalid('model', "Missing required parameter: 'model'.");
  if (typeof model !== 'string' || model.length === 0) {
    return invalid('model', `Invalid 'model': expected a non-empty string, but got ${typeName(model)}.`);
  }
  return null;
}

export function checkPositiveInteger(body: RequestBody, field: string): GatewayError | null {
  const value = body[field];
  if (isAbsent(value)) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    return invalid(
      field,
      `Invalid '${field}': expected a positive integer, but got ${typeof value === 'number' ? value : typeName(value)}.`,
    );
  }
  return null;
}

/** `stream` a boolean and `stream_options` an object, when present. */
export function checkStreamFields(body: RequestBody): GatewayError | null {
  if (!isAbsent(body.stream) && typeof body.stream !== 'boolean') {
    return invalid('stream', `Invalid 'stream': expected a boolean, but got ${typeName(body.stream)}.`);
  }
  if (!isAbsent(body.stream_options) && !isObject(body.stream_options)) {
    return invalid(
      'stream_options',
      `Invalid 'stream_options': expected an object, but got ${typeName(body.stream_options)}.`,
    );
  }
  return null;
}

/** `messages` a non-empty array of objects, each with a string `role`. */
export function checkMessages(body: RequestBody): GatewayError | null {
  const messages = body.messages;
  if (isAbsent(messages)) return invalid('messages', "Missing required parameter: 'messages'.");
  if (!Array.isArray(messages)) {
    return invalid('messages', `Invalid 'messages': expected an array, but got ${typeName(messages)}.`);
  }
  if (messages.length === 0) {
    return invalid('messages', "Invalid 'messages': expected a non-empty array.");
  }
  const tooLong = checkListLength('messages', messages);
  if (tooLong) return tooLong;
  for (let i = 0; i < messages.length; i++) {
    const message: unknown = messages[i];
    if (!isObject(message)) {
      return invalid(
        `messages[${i}]`,
        `Invalid 'messages[${i}]': expected an object, but got ${typeName(message)}.`,
      );
    }
    if (typeof message.role !== 'string') {
      const param = `messages[${i}].role`;
      return isAbsent(message.role)
        ? invalid(param, `Missing required parameter: '${param}'.`)
        : invalid(param, `Invalid '${param}': expected a string, but got ${typeName(message.role)}.`);
    }
  }
  return null;
}

/** The first error of a list of checks, or null. */
export function firstError(...checks: Array<() => GatewayError | null>): GatewayError | null {
  for (const check of checks) {
    const error = check();
    if (error) return error;
  }
  return null;
}

/** A non-negative integer token count from provider JSON; anything else is 0. */
export function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** An optional nested object member, or undefined. */
export function member(value: unknown, key: string): unknown {
  return isObject(value) ? value[key] : undefined;
}

export function positiveIntegerOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}
