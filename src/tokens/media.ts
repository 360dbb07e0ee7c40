/**
 * Worst-case token costs of non-text inputs. The request does not tell an image's size (a URL
 * would have to be fetched, and even inline data would have to be decoded), so every image is
 * charged the most the model can bill for one image at its `detail`. Settling with the provider's
 * usage gives back the difference; what matters here is never reserving too little.
 */
import { isClaudeModel } from './encoding.js';
import { type PromptParts, str } from './prompt.js';

type ImageRule = { kind: 'tiles'; base: number; perTile: number } | { kind: 'patches'; multiplier: number };

/**
 * OpenAI's published image costs ("Images and vision", calculating costs), longest prefix first.
 * Tile models: an image is fit in 2048x2048, then its short side scaled to 768, then covered by
 * 512px tiles; the most tiles any image can need is 2048x768 -> 4x2 = 8, so high/auto costs
 * base + 8 x perTile and low costs base. Patch models: 32px patches, capped at 1536 per image,
 * times a model multiplier; `detail` does not lower that cap, so the worst case ignores it.
 */
const OPENAI_IMAGE_RULES: ReadonlyArray<readonly [prefix: string, rule: ImageRule]> = [
  ['gpt-4o-mini', { kind: 'tiles', base: 2833, perTile: 5667 }],
  ['gpt-4.1-mini', { kind: 'patches', multiplier: 1.62 }],
  ['gpt-4.1-nano', { kind: 'patches', multiplier: 2.46 }],
  ['gpt-5-mini', { kind: 'patches', multiplier: 1.62 }],
  ['gpt-5-nano', { kind: 'patches', multiplier: 2.46 }],
  ['o4-mini', { kind: 'patches', multiplier: 1.72 }],
  ['gpt-5', { kind: 'tiles', base: 70, perTile: 140 }],
  ['o1', { kind: 'tiles', base: 75, perTile: 150 }],
  ['o3', { kind: 'tiles', base: 75, perTile: 150 }],
  ['computer-use', { kind: 'tiles', base: 65, perTile: 129 }],
];
/** gpt-4o, gpt-4.1, gpt-4.5 and any model we do not know: the common 85 + 170/tile scheme. */
const DEFAULT_IMAGE_RULE: ImageRule = { kind: 'tiles', base: 85, perTile: 170 };

export const MAX_IMAGE_TILES = 8;
export const MAX_IMAGE_PATCHES = 1536;

/**
 * Anthropic: tokens ~= width x height / 750, and images are downscaled to at most ~1.15
 * megapixels (1568px long edge), so no image costs more than ~1600 tokens.
 */
export const CLAUDE_IMAGE_TOKENS = 1600;

export function openAiImageRule(model: string): ImageRule {
  const m = model.toLowerCase();
  for (const [prefix, rule] of OPENAI_IMAGE_RULES) if (m.startsWith(prefix)) return rule;
  return DEFAULT_IMAGE_RULE;
}

/** Worst-case tokens of one image for this model at this `detail` (low | high | auto | missing). */
export function imageTokens(model: string, detail: unknown): number {
  if (isClaudeModel(model)) return CLAUDE_IMAGE_TOKENS;
  const rule = openAiImageRule(model);
  if (rule.kind === 'patches') return Math.ceil(MAX_IMAGE_PATCHES * rule.multiplier);
  if (detail === 'low') return rule.base;
  return rule.base + MAX_IMAGE_TILES * rule.perTile;
}

/**
 * PDFs are billed per page as the page's text plus an image of the page (OpenAI and Anthropic
 * both do this). Text per page: Anthropic quotes 1,500-3,000 tokens; we take the top.
 * Both providers reject documents over 100 pages, so no PDF is charged for more.
 */
export const PDF_TEXT_TOKENS_PER_PAGE = 3000;
export const PDF_MAX_PAGES = 100;
/**
 * When the page objects are hidden in compressed object streams (PDF 1.5+), the page count is
 * not visible without inflating them; assume a page per 8 KB, dense for text-only PDFs.
 */
const PDF_BYTES_PER_PAGE_GUESS = 8 * 1024;
/**
 * A file referenced by id or URL is not in the request. Its size is unknowable here, so a
 * nominal 10-page document is reserved; the settle step replaces it with the real usage.
 */
export const REFERENCED_FILE_PAGES = 10;

export function pdfPageTokens(model: string, pages: number): number {
  const n = Math.min(Math.max(pages, 1), PDF_MAX_PAGES);
  return n * (PDF_TEXT_TOKENS_PER_PAGE + imageTokens(model, 'high'));
}

function decodedBytes(base64: string): number {
  const data = stripDataUrl(base64);
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((data.length * 3) / 4) - padding);
}

function stripDataUrl(data: string): string {
  if (!data.startsWith('data:')) return data;
  const comma = data.indexOf(',');
  return comma < 0 ? data : data.slice(comma + 1);
}

/** Page count of an inline PDF: `/Type /Page` objects, or a size-based guess when they are compressed. */
export function pdfPages(base64: string): number {
  const bytes = Buffer.from(stripDataUrl(base64), 'base64').toString('latin1');
  const pages = bytes.match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;
  if (pages > 0) return Math.min(pages, PDF_MAX_PAGES);
  return Math.min(Math.ceil(bytes.length / PDF_BYTES_PER_PAGE_GUESS), PDF_MAX_PAGES);
}

/**
 * An inline file: PDFs by pages; text media types by their decoded text; anything else as a
 * PDF guess from its size (providers convert office documents to pages, too).
 */
export function addInlineFile(parts: PromptParts, data: string, mediaType: string | undefined): void {
  const type = mediaType ?? mediaTypeOfDataUrl(data);
  if (type?.startsWith('text/') || type === 'application/json') {
    parts.text(Buffer.from(stripDataUrl(data), 'base64').toString('utf8'));
    return;
  }
  parts.fixed(pdfPageTokens(parts.model, pdfPages(data)));
}

export function addReferencedFile(parts: PromptParts): void {
  parts.fixed(pdfPageTokens(parts.model, REFERENCED_FILE_PAGES));
}

function mediaTypeOfDataUrl(data: string): string | undefined {
  if (!data.startsWith('data:')) return undefined;
  const end = data.search(/[;,]/);
  return end < 0 ? undefined : data.slice(5, end);
}

/**
 * OpenAI bills audio input at about one token per 100 ms. The duration is not in the request, so
 * it is bounded from the data size and the lowest bitrate the format plausibly has: a WAV file
 * says its byte rate in its header; otherwise 8 kbit/s (1000 B/s, lower than any speech codec
 * preset in use) for compressed formats and 8 kHz 8-bit mono (8000 B/s) for raw PCM.
 */
export const AUDIO_TOKENS_PER_SECOND = 10;

export function audioTokens(data: unknown, format: unknown): number {
  const base64 = str(data);
  if (!base64) return 0;
  const bytes = decodedBytes(base64);
  const byteRate = wavByteRate(base64) ?? (format === 'wav' || format === 'pcm16' ? 8000 : 1000);
  return Math.ceil((bytes / byteRate) * AUDIO_TOKENS_PER_SECOND);
}

function wavByteRate(base64: string): number | undefined {
  const head = Buffer.from(stripDataUrl(base64).slice(0, 64), 'base64');
  if (head.length < 32) return undefined;
  if (head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 16) !== 'WAVEfmt ')
    return undefined;
  const rate = head.readUInt32LE(28);
  // A header claiming an absurd rate must not shrink the estimate: trust it within PCM's range.
  return rate >= 1000 && rate <= 384_000 * 8 ? rate : undefined;
}
