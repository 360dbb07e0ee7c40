/**
 * Gemini generateContent / streamGenerateContent / countTokens bodies. Google's tokenizer is not
 * public (SentencePiece, usually no more tokens than o200k_base on prose), so text is counted with
 * o200k_base plus a chat-like 3 tokens per turn; what settles is the `usageMetadata` Google reports.
 *
 * Media, as Google documents it: an image is 258 tokens per 768x768 tile. The image size is not
 * read here, so an image is reserved as GEMINI_IMAGE_TOKENS (five tiles, above Gemini 3's 1120 at
 * high media resolution); PDFs and text files like the other APIs' files (media.ts); audio and video
 * by their base64 JSON (more characters than Google's 32 tokens per second of audio: on the safe
 * side). A file referenced by URI (fileData) is unknown: a referenced file's allowance.
 */
import { addInlineFile, addReferencedFile } from '../media.js';
import { arr, isRecord, type PromptParts, str } from '../prompt.js';
import { REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE } from './chat.js';

export const GEMINI_IMAGE_TOKENS = 1290;

export function collectGemini(parts: PromptParts, body: Record<string, unknown>): void {
  const system = body.systemInstruction ?? body.system_instruction;
  if (isRecord(system)) {
    parts.fixed(TOKENS_PER_MESSAGE);
    addParts(parts, system.parts);
  } else if (typeof system === 'string') {
    parts.fixed(TOKENS_PER_MESSAGE);
    parts.text(system);
  }
  // countTokens may wrap the request: { generateContentRequest: { contents, ... } }.
  const request = isRecord(body.generateContentRequest) ? body.generateContentRequest : body;
  if (request !== body) {
    collectGemini(parts, request);
    return;
  }
  const contents = body.contents;
  if (isRecord(contents)) addContent(parts, contents);
  else for (const content of arr(contents)) addContent(parts, content);
  parts.fixed(REPLY_PRIMING_TOKENS);
  for (const tool of arr(body.tools)) parts.json(tool);
  if (!isAbsentish(body.toolConfig)) parts.json(body.toolConfig);
  const config = isRecord(body.generationConfig) ? body.generationConfig : undefined;
  if (config && !isAbsentish(config.responseSchema)) parts.json(config.responseSchema);
  if (config && !isAbsentish(config.responseJsonSchema)) parts.json(config.responseJsonSchema);
}

function isAbsentish(value: unknown): boolean {
  return value === undefined || value === null;
}

function addContent(parts: PromptParts, content: unknown): void {
  parts.fixed(TOKENS_PER_MESSAGE);
  if (!isRecord(content)) {
    parts.json(content);
    return;
  }
  parts.text(str(content.role));
  addParts(parts, content.parts);
}

function addParts(parts: PromptParts, list: unknown): void {
  if (isRecord(list)) {
    addPart(parts, list);
    return;
  }
  for (const part of arr(list)) addPart(parts, part);
}

function addPart(parts: PromptParts, part: unknown): void {
  if (!isRecord(part)) {
    parts.json(part);
    return;
  }
  if (typeof part.text === 'string') {
    parts.text(part.text);
    return;
  }
  const inline = part.inlineData ?? part.inline_data;
  if (isRecord(inline)) {
    const mime = str(inline.mimeType) ?? str(inline.mime_type) ?? '';
    const data = str(inline.data) ?? '';
    if (mime.startsWith('image/')) parts.fixed(GEMINI_IMAGE_TOKENS);
    else if (mime === 'application/pdf' || mime.startsWith('text/') || mime === 'application/json') {
      addInlineFile(parts, data, mime);
    } else parts.json(data);
    return;
  }
  if (isRecord(part.fileData ?? part.file_data)) {
    addReferencedFile(parts);
    return;
  }
  // functionCall, functionResponse, executableCode, codeExecutionResult: their JSON.
  parts.json(part);
}
