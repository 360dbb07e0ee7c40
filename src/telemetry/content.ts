/**
 * Prompt and response text for spans, only with telemetry.capture_content on: the GenAI
 * conventions' gen_ai.input.messages / gen_ai.output.messages attributes, JSON arrays of
 * `{ role, parts: [{ type: "text", content }] }` (other part kinds keep only their type). Each is
 * cut at MAX_CONTENT_CHARS so one long conversation cannot make a span (and an export) huge; a cut
 * value ends in CUT_MARK and is no longer valid JSON, which tells a reader it was cut.
 */
export const MAX_CONTENT_CHARS = 16_384;
export const CUT_MARK = '…[truncated]';

interface Part {
  type: string;
  content?: string;
}
interface Message {
  role: string;
  parts: Part[];
  finish_reason?: string;
}

/** The request's messages (chat, Messages, Responses input, completions prompt), bounded. */
export function inputMessages(body: Record<string, unknown>): string | undefined {
  const out: Message[] = [];
  if (typeof body.system === 'string' || Array.isArray(body.system)) {
    out.push({ role: 'system', parts: parts(body.system) });
  }
  const list = Array.isArray(body.messages)
    ? body.messages
    : Array.isArray(body.input)
      ? body.input
      : undefined;
  if (list) {
    for (const item of list) {
      const message = item as { role?: unknown; content?: unknown } | null;
      if (!message || typeof message !== 'object') continue;
      out.push({
        role: typeof message.role === 'string' ? message.role : 'user',
        parts: parts(message.content),
      });
    }
  } else if (
    typeof body.input === 'string' ||
    typeof body.prompt === 'string' ||
    Array.isArray(body.prompt)
  ) {
    out.push({ role: 'user', parts: parts(body.input ?? body.prompt) });
  }
  return out.length > 0 ? bounded(out) : undefined;
}

/** A plain answer's generated messages (OpenAI choices / Responses output, Anthropic content), bounded. */
export function outputMessages(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const body = json as Record<string, unknown>;
  const out: Message[] = [];
  if (Array.isArray(body.choices)) {
    for (const raw of body.choices) {
      const choice = raw as {
        message?: { role?: unknown; content?: unknown };
        text?: unknown;
        finish_reason?: unknown;
      };
      const content = choice.message ? choice.message.content : choice.text;
      out.push({
        role: typeof choice.message?.role === 'string' ? choice.message.role : 'assistant',
        parts: parts(content),
        ...(typeof choice.finish_reason === 'string' ? { finish_reason: choice.finish_reason } : {}),
      });
    }
  } else if (body.type === 'message' && Array.isArray(body.content)) {
    out.push({
      role: 'assistant',
      parts: parts(body.content),
      ...(typeof body.stop_reason === 'string' ? { finish_reason: body.stop_reason } : {}),
    });
  } else if (Array.isArray(body.output)) {
    for (const raw of body.output) {
      const item = raw as { type?: unknown; role?: unknown; content?: unknown };
      if (item.type !== 'message') continue;
      out.push({ role: typeof item.role === 'string' ? item.role : 'assistant', parts: parts(item.content) });
    }
  }
  return out.length > 0 ? bounded(out) : undefined;
}

function parts(content: unknown): Part[] {
  if (typeof content === 'string') return [{ type: 'text', content }];
  if (!Array.isArray(content)) return [];
  const out: Part[] = [];
  for (const raw of content) {
    if (typeof raw === 'string') {
      out.push({ type: 'text', content: raw });
      continue;
    }
    const part = raw as { type?: unknown; text?: unknown } | null;
    if (!part || typeof part !== 'object') continue;
    if (typeof part.text === 'string') out.push({ type: 'text', content: part.text });
    else out.push({ type: typeof part.type === 'string' ? part.type : 'unknown' });
  }
  return out;
}

function bounded(messages: Message[]): string {
  const text = JSON.stringify(messages);
  return text.length <= MAX_CONTENT_CHARS
    ? text
    : text.slice(0, MAX_CONTENT_CHARS - CUT_MARK.length) + CUT_MARK;
}
