/**
 * Deterministic generated text whose token count is known without running a tokenizer: every
 * word is exactly one token in both o200k_base and cl100k_base (checked in test/mock/text.test.ts),
 * and a word with a leading space is always its own pre-token, so N words are exactly N tokens.
 * Texts and chunk splits are cached, so a streaming request does no string work beyond slicing.
 */

const FIRST_WORD = 'Hello';

// One token each (with the leading space) in o200k_base and cl100k_base.
const WORDS = (
  'the quick brown fox jumps over lazy dog and budget gateway token model cost limit spend reserve ' +
  'settle stream every request provider answer hello world simple small large fast slow data value ' +
  'price team user key time day week month year good great light dark river mountain cloud rain sun ' +
  'moon star tree leaf green blue red yellow water fire earth wind stone city road house door window ' +
  'table chair book page word line story music song voice sound color shape number count plan idea ' +
  'note list test check result report people friend family child mother father brother sister home ' +
  'work school game play run walk talk read write open close start stop begin end first last next ' +
  'back front side top bottom left right north south east west'
)
  .split(' ')
  .map((w) => ` ${w}`);

/** The i-th token of every generated text (i from 0). */
export function tokenAt(i: number): string {
  return i === 0 ? FIRST_WORD : WORDS[(i - 1) % WORDS.length]!;
}

/** Every distinct token the generator can emit (for tests). */
export const GENERATOR_TOKENS: readonly string[] = [FIRST_WORD, ...WORDS];

const CACHE_LIMIT = 512;
const texts = new Map<number, string>();

/** The generated text of exactly `tokens` tokens. */
export function generatedText(tokens: number): string {
  let text = texts.get(tokens);
  if (text === undefined) {
    text = '';
    for (let i = 0; i < tokens; i++) text += tokenAt(i);
    if (texts.size >= CACHE_LIMIT) texts.clear();
    texts.set(tokens, text);
  }
  return text;
}

export interface TextChunk {
  text: string;
  tokens: number;
}

const splits = new Map<string, readonly TextChunk[]>();

/**
 * The generated text of `tokens` tokens split into `chunks` pieces (default one per token), as
 * evenly as whole tokens allow. Never more pieces than tokens; none for zero tokens.
 */
export function textChunks(tokens: number, chunks?: number): readonly TextChunk[] {
  const count = Math.max(0, Math.min(tokens, chunks ?? tokens));
  const key = `${tokens}/${count}`;
  let split = splits.get(key);
  if (split === undefined) {
    const out: TextChunk[] = [];
    for (let k = 0; k < count; k++) {
      const from = Math.floor((k * tokens) / count);
      const to = Math.floor(((k + 1) * tokens) / count);
      let text = '';
      for (let i = from; i < to; i++) text += tokenAt(i);
      out.push({ text, tokens: to - from });
    }
    split = out;
    if (splits.size >= CACHE_LIMIT) splits.clear();
    splits.set(key, split);
  }
  return split;
}
