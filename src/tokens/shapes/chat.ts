/**
 * OpenAI Chat Completions. Overheads follow OpenAI's cookbook ("How to count tokens with
 * tiktoken"): every message is wrapped in 3 formatting tokens, a `name` costs 1 more, and the
 * reply is primed with 3 (<|start|>assistant<|message|>). The role and every string value of the
 * message are tokenized.
 */
import { addInlineFile, addReferencedFile, audioTokens, imageTokens } from '../media.js';
import { addContentList, arr, isRecord, type PromptParts, str } from '../prompt.js';
import { addToolDefinitions } from './tools.js';

export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_NAME = 1;
export const REPLY_PRIMING_TOKENS = 3;
/**
 * A tool call in an assistant message is rendered with its id and a wrapper around name and
 * arguments; the cookbook does not give a figure, so a few tokens are reserved per call.
 */
export const TOKENS_PER_TOOL_CALL = 3;
/** response_format json_schema is injected into the system prompt with a short preamble. */
export const RESPONSE_FORMAT_OVERHEAD = 10;

export function collectChat(parts: PromptParts, body: Record<string, unknown>): void {
  const messages = arr(body.messages);
  for (const message of messages) addMessage(parts, message);
  parts.fixed(REPLY_PRIMING_TOKENS);
  addToolDefinitions(parts, body.tools);
  addToolDefinitions(parts, body.functions);
  const format = body.response_format;
  if (isRecord(format) && format.type === 'json_schema') {
    parts.fixed(RESPONSE_FORMAT_OVERHEAD);
    parts.json(format.json_schema);
  }
}

function addMessage(parts: PromptParts, message: unknown): void {
  parts.fixed(TOKENS_PER_MESSAGE);
  if (!isRecord(message)) {
    parts.json(message);
    return;
  }
  parts.text(str(message.role));
  if (typeof message.name === 'string') {
    parts.fixed(TOKENS_PER_NAME);
    parts.text(message.name);
  }
  addContent(parts, message.content);
  if (typeof message.refusal === 'string') parts.text(message.refusal);
  // The id links a tool result to its call and is part of the rendered conversation.
  parts.text(str(message.tool_call_id));
  for (const call of arr(message.tool_calls)) addToolCall(parts, call);
  if (isRecord(message.function_call)) addFunction(parts, message.function_call);
  // A previous audio reply referenced by id: its transcript is re-read as input; unknown here,
  // the settle step corrects it.
}

function addToolCall(parts: PromptParts, call: unknown): void {
  parts.fixed(TOKENS_PER_TOOL_CALL);
  if (!isRecord(call)) {
    parts.json(call);
    return;
  }
  parts.text(str(call.id));
  if (isRecord(call.function)) addFunction(parts, call.function);
  else if (isRecord(call.custom)) {
    parts.text(str(call.custom.name));
    parts.json(call.custom.input);
  } else parts.json(call);
}

function addFunction(parts: PromptParts, fn: Record<string, unknown>): void {
  parts.text(str(fn.name));
  parts.json(fn.arguments);
}

export function addContent(parts: PromptParts, content: unknown): void {
  addContentList(parts, content, addContentPart);
}

function addContentPart(parts: PromptParts, part: unknown): void {
  if (typeof part === 'string') {
    parts.text(part);
    return;
  }
  if (!isRecord(part)) {
    parts.json(part);
    return;
  }
  switch (part.type) {
    case 'text':
      parts.json(part.text);
      return;
    case 'refusal':
      parts.json(part.refusal);
      return;
    case 'image_url': {
      const image = part.image_url;
      parts.fixed(imageTokens(parts.model, isRecord(image) ? image.detail : undefined));
      return;
    }
    case 'input_audio': {
      const audio = part.input_audio;
      if (isRecord(audio)) parts.fixed(audioTokens(audio.data, audio.format));
      return;
    }
    case 'file': {
      const file = isRecord(part.file) ? part.file : {};
      parts.text(str(file.filename));
      if (typeof file.file_data === 'string') addInlineFile(parts, file.file_data, undefined);
      else addReferencedFile(parts);
      return;
    }
    default:
      parts.json(part);
  }
}
