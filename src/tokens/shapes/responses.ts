/**
 * OpenAI Responses. `instructions` is a system message; `input` is a string (one user message)
 * or a list of items. Items are wrapped like chat messages (3 tokens each, 3 to prime the reply).
 * What cannot be seen here is not counted: `previous_response_id` and `item_reference` pull in
 * earlier context, and built-in tools (web search, file search) add retrieved text; the settle
 * step bills those from the provider's usage.
 */
import { addInlineFile, addReferencedFile, audioTokens, imageTokens } from '../media.js';
import { addContentList, arr, isRecord, type PromptParts, str } from '../prompt.js';
import {
  REPLY_PRIMING_TOKENS,
  RESPONSE_FORMAT_OVERHEAD,
  TOKENS_PER_MESSAGE,
  TOKENS_PER_TOOL_CALL,
} from './chat.js';
import { addToolDefinitions } from './tools.js';

export function collectResponses(parts: PromptParts, body: Record<string, unknown>): void {
  // A string is one message as a list item would be: its role is counted too (the provider
  // wraps it as { role: "system" / "user", content }, and bills the role's token).
  if (typeof body.instructions === 'string' && body.instructions.length > 0) {
    parts.fixed(TOKENS_PER_MESSAGE);
    parts.text('system');
    parts.text(body.instructions);
  }
  const input = body.input;
  if (typeof input === 'string') {
    parts.fixed(TOKENS_PER_MESSAGE);
    parts.text('user');
    parts.text(input);
  } else if (Array.isArray(input)) {
    for (const item of input) addItem(parts, item);
  } else {
    parts.json(input);
  }
  parts.fixed(REPLY_PRIMING_TOKENS);
  addToolDefinitions(parts, body.tools);
  const format = isRecord(body.text) ? body.text.format : undefined;
  if (isRecord(format) && format.type === 'json_schema') {
    parts.fixed(RESPONSE_FORMAT_OVERHEAD);
    parts.json(format.schema);
    parts.text(str(format.name));
    parts.json(format.description);
  }
}

function addItem(parts: PromptParts, item: unknown): void {
  if (!isRecord(item)) {
    parts.fixed(TOKENS_PER_MESSAGE);
    parts.json(item);
    return;
  }
  // A message item may omit `type`: { role, content } is accepted as a message.
  const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
  switch (type) {
    case 'message':
      parts.fixed(TOKENS_PER_MESSAGE);
      parts.text(str(item.role));
      addParts(parts, item.content);
      return;
    case 'function_call':
    case 'custom_tool_call':
      parts.fixed(TOKENS_PER_MESSAGE + TOKENS_PER_TOOL_CALL);
      parts.text(str(item.call_id));
      parts.text(str(item.name));
      parts.json(item.arguments ?? item.input);
      return;
    case 'function_call_output':
    case 'custom_tool_call_output':
      parts.fixed(TOKENS_PER_MESSAGE);
      parts.text(str(item.call_id));
      addParts(parts, item.output);
      return;
    case 'reasoning':
      // Reasoning passed back is input again. Its original tokens are hidden; the summary and
      // the encrypted blob are what we can see, and counting both as text overcounts.
      parts.fixed(TOKENS_PER_MESSAGE);
      for (const s of arr(item.summary)) parts.json(isRecord(s) ? s.text : s);
      for (const c of arr(item.content)) parts.json(isRecord(c) ? c.text : c);
      parts.text(str(item.encrypted_content));
      return;
    case 'item_reference':
      return;
    default:
      // Tool call records (web_search_call, computer_call, mcp_call, ...): their JSON.
      parts.fixed(TOKENS_PER_MESSAGE);
      parts.json(item);
  }
}

function addParts(parts: PromptParts, content: unknown): void {
  addContentList(parts, content, addPart);
}

function addPart(parts: PromptParts, part: unknown): void {
  if (!isRecord(part)) {
    parts.json(part);
    return;
  }
  switch (part.type) {
    case 'input_text':
    case 'output_text':
    case 'text':
      parts.json(part.text);
      return;
    case 'refusal':
      parts.json(part.refusal);
      return;
    case 'input_image':
      parts.fixed(imageTokens(parts.model, part.detail));
      return;
    case 'input_audio': {
      const audio = isRecord(part.input_audio) ? part.input_audio : part;
      parts.fixed(audioTokens(audio.data, audio.format));
      return;
    }
    case 'input_file':
      parts.text(str(part.filename));
      if (typeof part.file_data === 'string') addInlineFile(parts, part.file_data, undefined);
      else addReferencedFile(parts);
      return;
    default:
      parts.json(part);
  }
}
