/**
 * `x-mock-tool-calls: N`: the answer is N function calls instead of text (chat: per choice,
 * finish_reason "tool_calls"; Anthropic: a text block, then N tool_use blocks, stop_reason
 * "tool_use"). Each call is named after the request's tools in turn ("lookup" without tools) and
 * its arguments are `{"query":"<the generated text>"}`; the call's billed tokens are the tokens of
 * that JSON (tiktoken), and its arguments stream as one delta per text chunk.
 */
import { countTokens, encodingForModel } from '../tokens/encoding.js';
import type { Exchange, Json } from './exchange.js';
import { generatedText, type TextChunk, textChunks } from './text.js';

export interface MockToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface ToolCallPlan {
  /** Per choice (one list for Anthropic), the calls in order. */
  calls: MockToolCall[][];
  /** Billed output tokens of one call's arguments. */
  tokensPerCall: number;
  /** The argument text in stream pieces, with each piece's generated text tokens. */
  pieces: readonly TextChunk[];
}

const PREFIX = '{"query":"';
const SUFFIX = '"}';

function toolName(body: Json, k: number): string {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const tool = tools.length > 0 ? (tools[k % tools.length] as Json | undefined) : undefined;
  const fn = tool !== undefined && typeof tool.function === 'object' ? (tool.function as Json) : tool;
  return typeof fn?.name === 'string' ? fn.name : 'lookup';
}

/** The tool calls to answer with, ids drawn now (choice-major) so plain and stream agree; undefined without the header. */
export function planToolCalls(
  ex: Exchange,
  body: Json,
  choices: number,
  textTokens: number,
  idKind: string,
): ToolCallPlan | undefined {
  const count = ex.plan.toolCalls;
  if (count === 0) return undefined;
  const args = `${PREFIX}${generatedText(textTokens)}${SUFFIX}`;
  const calls: MockToolCall[][] = [];
  for (let i = 0; i < choices; i++) {
    const list: MockToolCall[] = [];
    for (let k = 0; k < count; k++)
      list.push({ id: ex.ids.id(idKind), name: toolName(body, k), arguments: args });
    calls.push(list);
  }
  const chunks = textChunks(textTokens, ex.plan.chunks);
  const pieces: TextChunk[] =
    chunks.length === 0
      ? [{ text: `${PREFIX}${SUFFIX}`, tokens: 0 }]
      : chunks.map((chunk, k) => ({
          text: `${k === 0 ? PREFIX : ''}${chunk.text}${k === chunks.length - 1 ? SUFFIX : ''}`,
          tokens: chunk.tokens,
        }));
  const model = typeof body.model === 'string' ? body.model : '';
  return { calls, tokensPerCall: countTokens(args, encodingForModel(model)), pieces };
}
