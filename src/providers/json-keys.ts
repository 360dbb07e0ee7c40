/**
 * Duplicate object keys in a JSON request body. JSON.parse keeps the last of `{"model":"a",
 * "model":"b"}`; an upstream may keep the first, so the gateway would check one request and
 * forward another. A body with a duplicated key, at any depth, is refused before it is trusted.
 *
 * One pass over the bytes, no second parse: strings are skipped with Buffer/Uint8Array indexOf
 * (native), only structural bytes are looked at one by one, and only keys are decoded. Keys are
 * compared as JSON.parse would see them (escapes decoded: `"mod\u0065l"` duplicates `"model"`).
 * Invalid JSON is not this module's business: the scan gives up quietly (null) and the parser
 * reports the error.
 */
import { GatewayError } from '../errors.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/** Nesting beyond this is left to the body parser's depth limit (MAX_JSON_DEPTH is far lower). */
const MAX_SCAN_DEPTH = 1024;
/** Objects with up to this many keys are checked with a list; larger ones get a Set. */
const LIST_KEYS = 16;

/** What a byte means to the scan: most bytes (inside numbers, literals, whitespace) mean nothing. */
const SKIP = 0;
const CLASS = new Uint8Array(256);
for (const byte of [QUOTE, OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY, CLOSE_ARRAY, COMMA]) CLASS[byte] = 1;

/**
 * The open objects and arrays, as parallel arrays reused across calls' depths (no allocation per
 * object): whether the level is an object, the array index or the object's keys so far, and the
 * key whose value is being read.
 */
class Levels {
  depth = 0;
  readonly isObject = new Uint8Array(MAX_SCAN_DEPTH);
  readonly expectKey = new Uint8Array(MAX_SCAN_DEPTH);
  readonly index = new Int32Array(MAX_SCAN_DEPTH);
  readonly keys: string[][] = [];
  readonly sets: Array<Set<string> | undefined> = [];
  readonly current: string[] = [];

  open(object: boolean): boolean {
    const at = this.depth;
    if (at >= MAX_SCAN_DEPTH) return false;
    this.depth++;
    this.isObject[at] = object ? 1 : 0;
    this.expectKey[at] = object ? 1 : 0;
    this.index[at] = 0;
    if (object) {
      const keys = this.keys[at];
      if (keys === undefined) this.keys[at] = [];
      else keys.length = 0;
      this.sets[at] = undefined;
    }
    return true;
  }

  /** Records a key at the innermost object; false when it was already there. */
  add(key: string): boolean {
    const at = this.depth - 1;
    this.expectKey[at] = 0;
    this.current[at] = key;
    const set = this.sets[at];
    if (set !== undefined) {
      if (set.has(key)) return false;
      set.add(key);
      return true;
    }
    const keys = this.keys[at] as string[];
    if (keys.includes(key)) return false;
    keys.push(key);
    if (keys.length > LIST_KEYS) this.sets[at] = new Set(keys);
    return true;
  }

  path(duplicate: string): string {
    let path = '';
    for (let at = 0; at < this.depth - 1; at++) {
      if (this.isObject[at] === 0) path += `[${this.index[at]}]`;
      else path += path === '' ? this.current[at] : `.${this.current[at]}`;
    }
    return path === '' ? duplicate : `${path}.${duplicate}`;
  }
}

/** A view of the body as a Buffer (no copy), for its fast latin1 / utf8 slicing. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The path of the first key that occurs twice in one object (`model`, `messages[2].content`,
 * `stream_options.include_usage`), or null when there is none (or the bytes are not JSON).
 */
export function findDuplicateKey(body: Uint8Array): string | null {
  const bytes = asBuffer(body);
  const levels = new Levels();
  const length = bytes.length;
  let nextBackslash = -1;
  for (let i = 0; i < length; i++) {
    const byte = bytes[i] as number;
    if (CLASS[byte] === SKIP) continue;
    if (byte === QUOTE) {
      // The closing quote: the first one not escaped by an odd run of backslashes.
      let end = nextQuote(bytes, i + 1);
      while (end > 0 && isEscaped(bytes, end)) end = nextQuote(bytes, end + 1);
      if (end < 0) return null;
      const at = levels.depth - 1;
      if (at >= 0 && levels.expectKey[at] === 1) {
        if (nextBackslash < i) nextBackslash = indexOrEnd(bytes, BACKSLASH, i + 1);
        const key = decodeKey(bytes, i, end, nextBackslash < end);
        if (key === undefined) return null;
        if (!levels.add(key)) return levels.path(key);
      }
      i = end;
    } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      if (!levels.open(byte === OPEN_OBJECT)) return null;
    } else if (byte === COMMA) {
      const at = levels.depth - 1;
      if (at < 0) continue;
      if (levels.isObject[at] === 1) levels.expectKey[at] = 1;
      else levels.index[at] = (levels.index[at] as number) + 1;
    } else if (levels.depth > 0) {
      levels.depth--;
    }
  }
  return null;
}

/** A 400 naming the duplicated key, or null when every object's keys are distinct. */
export function duplicateKeyError(bytes: Uint8Array): GatewayError | null {
  const path = findDuplicateKey(bytes);
  if (path === null) return null;
  return new GatewayError(
    'invalid_request',
    `Invalid request body: the key '${path}' appears more than once in the same object; send each key once.`,
    { param: path },
  );
}

/** A JS loop over the first bytes (most strings are short; a native call costs more), then indexOf. */
function nextQuote(bytes: Buffer, from: number): number {
  const near = Math.min(bytes.length, from + 32);
  for (let k = from; k < near; k++) if (bytes[k] === QUOTE) return k;
  return near === bytes.length ? -1 : bytes.indexOf(QUOTE, near);
}

function isEscaped(bytes: Uint8Array, quoteAt: number): boolean {
  let backslashes = 0;
  for (let k = quoteAt - 1; bytes[k] === BACKSLASH; k--) backslashes++;
  return backslashes % 2 === 1;
}

function indexOrEnd(bytes: Uint8Array, byte: number, from: number): number {
  const at = bytes.indexOf(byte, from);
  return at < 0 ? bytes.length : at;
}

/** The key as JSON.parse reads it; undefined when the escapes are invalid. */
function decodeKey(bytes: Buffer, open: number, close: number, escaped: boolean): string | undefined {
  if (escaped) {
    try {
      return JSON.parse(bytes.toString('utf8', open, close + 1)) as string;
    } catch {
      return undefined;
    }
  }
  // Keys are short and nearly always ASCII: latin1 slicing is the cheapest exact decoding there.
  for (let k = open + 1; k < close; k++) {
    if ((bytes[k] as number) >= 0x80) return bytes.toString('utf8', open + 1, close);
  }
  return bytes.toString('latin1', open + 1, close);
}
