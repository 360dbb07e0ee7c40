/**
 * Anthropic Messages. Anthropic publishes no tokenizer and no per-message overhead; text is
 * counted with o200k_base and scaled by CLAUDE_MARGIN (PromptParts does that for Claude models),
 * and a chat-like 3 tokens per message is reserved for the turn markers. `thinking` config only
 * affects output and is ignored.
 */
import { addInlineFile, addReferencedFile, CLAUDE_IMAGE_TOKENS } from '../media.js';
import { addContentList, arr, isRecord, type PromptParts, str } from '../prompt.js';
import { REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, TOKENS_PER_TOOL_CALL } from './chat.js';
import { addFunctionDefinition } from './tools.js';

/**
 * Anthropic documents the system prompt it adds when tools are present: 346 tokens with
 * tool_choice auto/none, 313 with any/tool (Claude 4 / 3.7). The larger is reserved.
 */
export const CLAUDE_TOOLS_SYSTEM_TOKENS = 346;

export function collectMessages(parts: PromptParts, body: Record<string, unknown>): void {
  const system = body.system;
  if (system !== undefined && system !== null) {
    parts.fixed(TOKENS_PER_MESSAGE);
    addBlocks(parts, system);
  }
  for (const message of arr(body.messages)) {
    parts.fixed(TOKENS_PER_MESSAGE);
    if (isRecord(message)) {
      parts.text(str(message.role));
      addBlocks(parts, message.content);
    } else parts.json(message);
  }
  parts.fixed(REPLY_PRIMING_TOKENS);
  const tools = arr(body.tools);
  if (tools.length > 0) parts.fixed(CLAUDE_TOOLS_SYSTEM_TOKENS);
  for (const tool of tools) {
    // Client tools have an input_schema; server tools (web_search_..., bash_..., ...) are
    // counted by their JSON.
    if (isRecord(tool) && isRecord(tool.input_schema)) addFunctionDefinition(parts, tool, 'input_schema');
    else parts.json(tool);
  }
}

function addBlocks(parts: PromptParts, content: unknown): void {
  addContentList(parts, content, addBlock);
}

function addBlock(parts: PromptParts, block: unknown): void {
  if (!isRecord(block)) {
    parts.json(block);
    return;
  }
  switch (block.type) {
    case 'text':
      parts.json(block.text);
      return;
    case 'image':
      parts.fixed(CLAUDE_IMAGE_TOKENS);
      return;
    case 'document':
      addDocument(parts, block);
      return;
    case 'tool_use':
    case 'server_tool_use':
      parts.fixed(TOKENS_PER_TOOL_CALL);
      parts.text(str(block.id));
      parts.text(str(block.name));
      parts.json(block.input);
      return;
    case 'tool_result':
      parts.fixed(TOKENS_PER_TOOL_CALL);
      parts.text(str(block.tool_use_id));
      addBlocks(parts, block.content);
      return;
    case 'thinking':
      // Earlier thinking is dropped from context except inside a tool-use loop; worst case: kept.
      parts.json(block.thinking);
      return;
    case 'redacted_thinking':
      parts.json(block.data);
      return;
    default:
      parts.json(block);
  }
}

function addDocument(parts: PromptParts, block: Record<string, unknown>): void {
  parts.json(block.title);
  parts.json(block.context);
  const source = isRecord(block.source) ? block.source : {};
  switch (source.type) {
    case 'text':
      parts.json(source.data);
      return;
    case 'content':
      addBlocks(parts, source.content);
      return;
    case 'base64':
      if (typeof source.data === 'string') addInlineFile(parts, source.data, str(source.media_type));
      return;
    default:
      // url / file: the document is fetched by Anthropic and its size is unknown here.
      addReferencedFile(parts);
  }
}
