/**
 * tiktoken encoders, loaded once per process and shared. Which encoding a model uses:
 * o200k_base for gpt-4o, gpt-4.1, gpt-5 and the o-series; cl100k_base for older GPT models and
 * embeddings; Claude has no public tokenizer, so Claude models are counted with o200k_base and a
 * safety margin (CLAUDE_MARGIN) is applied by the estimator (tokens/estimate.ts).
 */
import { get_encoding, type Tiktoken } from 'tiktoken';

export type EncodingName = 'o200k_base' | 'cl100k_base';

const encoders = new Map<EncodingName, Tiktoken>();

export function encoder(name: EncodingName): Tiktoken {
  let enc = encoders.get(name);
  if (!enc) {
    enc = get_encoding(name);
    encoders.set(name, enc);
  }
  return enc;
}

/**
 * Loads the encoders these models use now, at start-up: loading o200k_base takes ~0.3 s of CPU,
 * which would otherwise land on the first request (and stall every request in flight with it).
 */
export function preloadEncoders(models: Iterable<string>): void {
  for (const model of models) encoder(encodingForModel(model));
}

/** Claude's tokenizer yields more tokens than o200k_base on typical text; estimates are scaled up by this. */
export const CLAUDE_MARGIN = 1.25;

export function isClaudeModel(model: string): boolean {
  return model.startsWith('claude');
}

export function encodingForModel(model: string): EncodingName {
  const m = model.toLowerCase();
  if (
    m.startsWith('gpt-3.5') ||
    m === 'gpt-4' ||
    m.startsWith('gpt-4-') ||
    m.startsWith('text-embedding') ||
    m.startsWith('davinci') ||
    m.startsWith('babbage')
  ) {
    return 'cl100k_base';
  }
  return 'o200k_base';
}

/**
 * Longest run of one character class handed to the tokenizer in one piece.
 *
 * Why: tiktoken's BPE merge is quadratic in the length of one pre-tokenizer piece, and a piece
 * is a run of letters, of punctuation or of whitespace. Measured with tiktoken 1.0.22: 100k
 * chars of "a" take ~9 s, so a 4 MB body of one letter would stall a thread for minutes. Cutting
 * such runs into 128-char chunks keeps every input at ~4-5 MB/s (like ordinary text) and
 * overcounts by at most ~1 token per cut (measured +1.4% on a DNA-like run), which is the safe
 * direction for a worst-case estimate. Ordinary prose and code never have such runs, so their
 * counts stay exact.
 */
export const MAX_RUN_CHARS = 128;

const LONG_RUN = new RegExp(
  `[\\p{L}\\p{M}]{${MAX_RUN_CHARS + 1},}|[^\\s\\p{L}\\p{N}]{${MAX_RUN_CHARS + 1},}|\\s{${MAX_RUN_CHARS + 1},}`,
  'gu',
);

/**
 * The pieces a text is tokenized as: the text itself unless it holds a pathological run (see
 * MAX_RUN_CHARS) or is longer than MAX_SEGMENT_CHARS (cut at word ends, the count unchanged). Both the main thread and the token worker count these same pieces, which is
 * what makes the off-thread count equal to the synchronous one.
 */
export function tokenizerSegments(text: string): string[] {
  if (text.length <= MAX_RUN_CHARS) return [text];
  if (text.length <= MAX_SEGMENT_CHARS) return runSegments(text);
  return [...tokenizerSegmentsOf(text)];
}

/**
 * tokenizerSegments as they are asked for: a long text is cut at word ends into windows of about
 * MAX_SEGMENT_CHARS, and each window is cut around its runs only when it is reached. The token
 * queue (worker-pool.ts) cuts a batch when it hands it to a worker, so a 3.9 MB prompt does not
 * hold the main thread 6-9 ms at once before its first batch (the run check reads every
 * character). Same pieces' counts as cutting the whole text first: a word-end cut (a space right
 * after an ASCII letter) never falls inside a run LONG_RUN matches (letter and symbol runs hold no
 * space; a white-space run starts at such a cut or after it), so every run is found whole, at the
 * same place, in its window. A text without word ends is one window, cut whole, as before.
 */
export function* tokenizerSegmentsOf(text: string): Generator<string, void, undefined> {
  if (text.length <= MAX_RUN_CHARS) {
    yield text;
    return;
  }
  let from = 0;
  while (text.length - from > MAX_SEGMENT_CHARS) {
    let cut = wordEndBefore(text, from + MAX_SEGMENT_CHARS, from);
    if (cut < 0) cut = wordEndAfter(text, from + MAX_SEGMENT_CHARS);
    if (cut < 0) break;
    yield* runSegments(text.slice(from, cut));
    from = cut;
  }
  yield* runSegments(from === 0 ? text : text.slice(from));
}

/**
 * Pieces longer than this are cut where a word ends before a space, so the token workers' fair
 * queue (worker-pool.ts) can hand out a long prompt a few ms at a time instead of in one piece
 * (a 3.9 MB prompt was one ~1 s batch, and a paying key's count waited behind it).
 *
 * Why the count stays exact: tiktoken splits a text into pre-tokenizer pieces before its BPE,
 * and no token crosses a piece. In both o200k_base's and cl100k_base's pattern, a piece holding
 * a letter holds no white space after it (letters, marks, an apostrophe suffix), and no other
 * piece holds a letter; so between an ASCII letter and a space that follows it, one piece always
 * ends and the next begins, and counting the two sides apart gives the same pieces and tokens
 * (the pattern has no look-behind; its one look-ahead, after white space, never sits at the cut).
 */
export const MAX_SEGMENT_CHARS = 8 * 1024;

const isAsciiLetter = (code: number) => (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);

/** The last index in (floor, at] of a space right after an ASCII letter, or -1. */
function wordEndBefore(text: string, at: number, floor: number): number {
  for (let space = text.lastIndexOf(' ', at); space > floor; space = text.lastIndexOf(' ', space - 1)) {
    if (isAsciiLetter(text.charCodeAt(space - 1))) return space;
  }
  return -1;
}

/** The first index from `at` of a space right after an ASCII letter, or -1. */
function wordEndAfter(text: string, at: number): number {
  for (let space = text.indexOf(' ', at); space >= 0; space = text.indexOf(' ', space + 1)) {
    if (isAsciiLetter(text.charCodeAt(space - 1))) return space;
  }
  return -1;
}

/** The text cut around its pathological runs (MAX_RUN_CHARS), or the text alone. */
function runSegments(text: string): string[] {
  if (asciiWithoutLongRun(text)) return [text];
  LONG_RUN.lastIndex = 0;
  let match = LONG_RUN.exec(text);
  if (!match) return [text];
  const segments: string[] = [];
  let from = 0;
  while (match) {
    const runStart = match.index;
    const runEnd = runStart + match[0].length;
    if (runStart > from) segments.push(text.slice(from, runStart));
    let at = runStart;
    while (at < runEnd) {
      let end = Math.min(at + MAX_RUN_CHARS, runEnd);
      // Never split a surrogate pair: a lone half would be counted as U+FFFD.
      const last = text.charCodeAt(end - 1);
      if (end < runEnd && last >= 0xd800 && last <= 0xdbff) end += 1;
      segments.push(text.slice(at, end));
      at = end;
    }
    from = runEnd;
    match = LONG_RUN.exec(text);
  }
  if (from < text.length) segments.push(text.slice(from));
  return segments;
}

/** Character classes of LONG_RUN, for ASCII: letters, other non-space non-digits, white space. */
const LETTER = 1;
const OTHER = 2;
const SPACE = 3;
const ASCII_CLASS = new Uint8Array(128);
for (let code = 0; code < 128; code++) {
  const char = String.fromCharCode(code);
  ASCII_CLASS[code] = /\p{L}/u.test(char)
    ? LETTER
    : /\s/u.test(char)
      ? SPACE
      : /\p{N}/u.test(char)
        ? 0
        : OTHER;
}

/**
 * True when the text is all ASCII and has no run LONG_RUN would match: then it is one piece, as
 * the regex would say, found ~10x faster (a 200k-character prompt: ~0.3 ms instead of ~3.5 ms on
 * the main thread). Any other text goes through the regex.
 */
function asciiWithoutLongRun(text: string): boolean {
  let runClass = 0;
  let runLength = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128) return false;
    const kind = ASCII_CLASS[code]!;
    if (kind === runClass && kind !== 0) {
      runLength += 1;
      if (runLength > MAX_RUN_CHARS) return false;
    } else {
      runClass = kind;
      runLength = 1;
    }
  }
  return true;
}

/** Tokens of one already-segmented piece. */
export function countSegment(segment: string, encoding: EncodingName): number {
  if (segment.length === 0) return 0;
  return encoder(encoding).encode_ordinary(segment).length;
}

/**
 * Token count of a text (special tokens are counted as ordinary text, as providers bill them).
 * Exact for ordinary text; a slight overcount for texts with pathological runs (MAX_RUN_CHARS).
 */
export function countTokens(text: string, encoding: EncodingName): number {
  if (text.length === 0) return 0;
  let total = 0;
  for (const segment of tokenizerSegments(text)) total += countSegment(segment, encoding);
  return total;
}
