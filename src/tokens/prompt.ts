/**
 * What a request will be billed for, before any tokenizing: the texts to count with the model's
 * tokenizer, plus tokens known without tokenizing (per-message overheads, images, token-id
 * prompts). Splitting "collect" from "count" is what lets the same collection be counted on the
 * main thread or in a worker with the same result.
 */
import { CLAUDE_MARGIN, type EncodingName, encodingForModel, isClaudeModel } from './encoding.js';

export class PromptParts {
  readonly texts: string[] = [];
  /** Total characters in `texts`: decides whether counting is worth moving off the main thread. */
  chars = 0;
  /** Tokens in the provider's own units; never scaled by the Claude margin. */
  fixedTokens = 0;

  constructor(
    readonly model: string,
    readonly encoding: EncodingName = encodingForModel(model),
    /** Claude's tokenizer is not public: tiktoken counts of its text are scaled up by this. */
    readonly margin: number = isClaudeModel(model) ? CLAUDE_MARGIN : 1,
  ) {}

  text(value: string | undefined): void {
    if (value === undefined || value.length === 0) return;
    this.texts.push(value);
    this.chars += value.length;
  }

  /**
   * Anything whose shape we do not know is counted as its JSON text: the body was validated
   * elsewhere, an unknown field is most likely new provider input, and counting its JSON errs on
   * the side of counting too much rather than nothing.
   */
  json(value: unknown): void {
    if (value === undefined || value === null) return;
    if (typeof value === 'string') {
      this.text(value);
      return;
    }
    this.text(safeStringify(value));
  }

  fixed(tokens: number): void {
    if (Number.isFinite(tokens) && tokens > 0) this.fixedTokens += Math.ceil(tokens);
  }

  /** The billed estimate once the texts have been counted (`textTokens` = sum over `texts`). */
  total(textTokens: number): number {
    return Math.ceil(textTokens * this.margin) + this.fixedTokens;
  }
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}

/**
 * Message content as every API allows it: absent, a plain string, or a list of parts (each counted
 * by `addPart`); anything else is counted as its JSON.
 */
export function addContentList(
  parts: PromptParts,
  content: unknown,
  addPart: (parts: PromptParts, part: unknown) => void,
): void {
  if (content === undefined || content === null) return;
  if (typeof content === 'string') {
    parts.text(content);
    return;
  }
  if (!Array.isArray(content)) {
    parts.json(content);
    return;
  }
  for (const part of content) addPart(parts, part);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
