/**
 * Token counts of texts seen recently. Apps send the same system prompt, tool definitions and
 * earlier turns of a conversation with every request, and tiktoken costs ~0.2 µs per character
 * (a 2,000-character system prompt is ~0.4 ms of main-thread CPU), while a Map lookup is far
 * less. Texts longer than MAX_CACHED_CHARS are never kept (they are counted off the main thread
 * anyway, and keeping them would pin their memory).
 *
 * Two generations instead of a strict LRU: new counts go into the young map; when it is full
 * (entries or characters) it becomes the old one and the previous old one is dropped whole; a hit
 * in the old map is copied into the young one. No deletes on the hot path (a Map that deletes
 * on every hit keeps compacting itself: measured ~10 µs per request), and a text in steady use
 * never falls out.
 *
 * A count depends only on the text and the encoding, so the cache never needs invalidating.
 */
import { countSegment, type EncodingName, tokenizerSegments } from './encoding.js';

export const MAX_CACHED_CHARS = 16_000;
/** Per generation; at most twice this is held. */
const GENERATION_ENTRIES = 5_000;
const GENERATION_CHARS = 500_000;

class Generations {
  private young = new Map<string, number>();
  private old = new Map<string, number>();
  private youngChars = 0;
  private oldChars = 0;

  get(text: string): number | undefined {
    const young = this.young.get(text);
    if (young !== undefined) return young;
    const old = this.old.get(text);
    if (old !== undefined) this.set(text, old);
    return old;
  }

  set(text: string, count: number): void {
    if (this.young.size >= GENERATION_ENTRIES || this.youngChars + text.length > GENERATION_CHARS) {
      this.old = this.young;
      this.oldChars = this.youngChars;
      this.young = new Map();
      this.youngChars = 0;
    }
    this.young.set(text, count);
    this.youngChars += text.length;
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.youngChars = 0;
    this.oldChars = 0;
  }

  size(): { entries: number; chars: number } {
    return { entries: this.young.size + this.old.size, chars: this.youngChars + this.oldChars };
  }
}

const caches: Record<EncodingName, Generations> = {
  o200k_base: new Generations(),
  cl100k_base: new Generations(),
};

/** The cached count of this text; undefined when not cached. */
export function cachedCount(text: string, encoding: EncodingName): number | undefined {
  if (text.length > MAX_CACHED_CHARS) return undefined;
  return caches[encoding].get(text);
}

export function rememberCount(text: string, encoding: EncodingName, count: number): void {
  if (text.length > MAX_CACHED_CHARS) return;
  caches[encoding].set(text, count);
}

/** Tokens of a text (as countTokens), from the cache when it was counted recently. */
export function countTextTokens(text: string, encoding: EncodingName): number {
  if (text.length === 0) return 0;
  const known = cachedCount(text, encoding);
  if (known !== undefined) return known;
  let count = 0;
  for (const segment of tokenizerSegments(text)) count += countSegment(segment, encoding);
  rememberCount(text, encoding, count);
  return count;
}

/** For tests: forget everything. */
export function clearCountCache(): void {
  caches.o200k_base.clear();
  caches.cl100k_base.clear();
}

/** For tests: entries and characters held (both encodings). */
export function countCacheSize(): { entries: number; chars: number } {
  const a = caches.o200k_base.size();
  const b = caches.cl100k_base.size();
  return { entries: a.entries + b.entries, chars: a.chars + b.chars };
}
