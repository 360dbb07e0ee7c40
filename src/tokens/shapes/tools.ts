/**
 * Tool (function) definitions. OpenAI renders them into the system prompt as a TypeScript-like
 * namespace; Anthropic adds a tool-use system prompt. Counting the definition's JSON (name,
 * description, parameters) overcounts the structural tokens a little compared with the rendered
 * form, which is the safe side. Fixed overheads per the cookbook's function-counting figures:
 * 7 tokens to open each function, 12 to close the block.
 */
import { arr, isRecord, type PromptParts, str } from '../prompt.js';

export const TOKENS_PER_TOOL = 7;
export const TOOLS_BLOCK_TOKENS = 12;

/** Chat `tools` ({ type: function, function: {...} }), legacy `functions`, and Responses tools (flat). */
export function addToolDefinitions(parts: PromptParts, tools: unknown): void {
  const list = arr(tools);
  if (list.length === 0) return;
  parts.fixed(TOOLS_BLOCK_TOKENS);
  for (const tool of list) {
    parts.fixed(TOKENS_PER_TOOL);
    if (!isRecord(tool)) {
      parts.json(tool);
      continue;
    }
    const fn = isRecord(tool.function) ? tool.function : tool;
    if (typeof fn.name === 'string' && (fn === tool.function || tool.type === 'function' || !tool.type)) {
      addFunctionDefinition(parts, fn);
    } else {
      // Built-in and custom tools (web_search, file_search, mcp, custom grammars...): their
      // whole definition is what the model is shown.
      parts.json(tool);
    }
  }
}

export function addFunctionDefinition(
  parts: PromptParts,
  fn: Record<string, unknown>,
  schemaField = 'parameters',
): void {
  parts.text(str(fn.name));
  parts.json(fn.description);
  parts.json(fn[schemaField]);
}
