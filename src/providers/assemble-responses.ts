/**
 * Responses API: the plain answer is the `response` of the stream's final event
 * (response.completed, or response.incomplete / response.failed when the API ended it so), which
 * carries the whole response. Cut at the cap here, it is the response the ResponseTracker closes,
 * as the API returns it at max_output_tokens (status "incomplete", incomplete_details).
 */
import type { Usage } from '../usage.js';
import { SseAssembler } from './assemble.js';
import { isObject } from './common.js';
import { ResponsesStreamTap } from './openai-stream.js';
import { ResponseTracker } from './responses-endings.js';
import { type SseFields, sseEventType, tryParseJson } from './sse.js';

const FINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

class ResponseAssembler extends SseAssembler {
  private readonly tracker = new ResponseTracker();
  private final: unknown;

  constructor() {
    super(new ResponsesStreamTap());
  }

  protected read(fields: SseFields): void {
    const data = fields.data;
    if (data === undefined) return;
    const type = sseEventType(fields);
    if (type === 'error') {
      // The API nests the error (see responses-endings.ts); the documented form has it at the top.
      const event = tryParseJson(data);
      if (isObject(event)) {
        const nested = isObject(event.error)
          ? event.error
          : { type: 'server_error', code: event.code, message: event.message, param: event.param ?? null };
        this.error ??= { error: nested };
      }
      return;
    }
    if (type !== undefined && FINAL.has(type)) {
      const event = tryParseJson(data);
      if (isObject(event) && isObject(event.response)) this.final = event.response;
      return;
    }
    this.tracker.read(type, data);
  }

  protected finished(): unknown {
    return this.final;
  }

  protected cut(usage: Usage): unknown {
    return this.tracker.incompleteResponse(usage);
  }
}

export function createResponsesAssembler(): SseAssembler {
  return new ResponseAssembler();
}
