/**
 * What the first bytes of a large chat body already prove about its prompt (issue #13): scanned
 * incrementally as the body arrives, with no parse and nothing kept, so a caller who cannot pay
 * even a prefix's lower bound is refused before the rest is read (routes/proxy/early-refusal.ts).
 *
 * For the shapes whose prompt is `messages` (OpenAI chat, Anthropic messages) it tracks the
 * top-level `model` and a lower bound of the UTF-8 bytes of the texts the token estimate counts
 * (tokens/shapes/chat.ts, messages.ts): a message's `content` string, counted as it streams, and
 * the `text` of a content part once the part has closed and said `type: "text"` (other parts, an
 * image with a stray `text`, are not counted). An escape sequence counts one byte (it decodes to at
 * least one), and the ASCII letter-space pairs inside those texts' unescaped runs (each ends a
 * pre-tokenizer piece: tokens/lower-bound.ts pieceFloor; 149k in a megabyte of prose, where its
 * bytes prove 8,192 tokens). Every byte and pair counted is one the full body's estimate counts, so the bound holds
 * whatever follows, except for a body the ordinary path would refuse as invalid (bad JSON, a key
 * twice): that caller gets the budget's refusal instead of the 400.
 */

import { MAX_JSON_DEPTH } from './body.js';

/** Keys longer than this are not any key the scan looks for. */
const MAX_KEY_BYTES = 32;
/** `model` and part `type` values are kept up to this many bytes (a longer one is no known name). */
const MAX_NAME_BYTES = 256;

/** Bytes looked at one by one before the next quote or backslash is searched for (indexOf). */
const NEAR_BYTES = 32;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

interface Frame {
  array: boolean;
  /** The object's current key ('' before one, or when it is one the scan ignores). */
  key: string;
  /** A content part's `type`, once seen. */
  type?: string;
  /** Bytes of a content part's `text`, counted once the part closes as a text part. */
  pendingText: number;
  /** Its letter-space pairs, likewise. */
  pendingPieces: number;
}

type State = 'value' | 'key-or-end' | 'colon' | 'comma-or-end' | 'string' | 'literal' | 'done' | 'failed';

/** What a string being read is: where its bytes go. */
type StringRole = 'key' | 'model' | 'type' | 'content' | 'part-text' | 'other';

export interface PrefixFacts {
  /** The top-level `model`, once its string closed. */
  model: string | undefined;
  /** At most the UTF-8 bytes of the texts the prompt estimate counts. */
  promptBytes: number;
  /** At most the ASCII letter-space pairs in those texts: each is a token boundary. */
  promptPieces: number;
}

export class PromptPrefixScan {
  private readonly stack: Frame[] = [];
  private state: State = 'value';
  private role: StringRole = 'other';
  private escape = 0; // 0: none; 1: after a backslash; 2-5: hex digits of \uXXXX left + 1
  private name: number[] = [];
  private model: string | undefined;
  private promptBytes = 0;
  private promptPieces = 0;
  /** The last byte of the string's unescaped run when the previous chunk ended inside it, else 0. */
  private runTail = 0;

  /** The scan gives up on what it cannot follow (a body that is not a JSON object, too deep). */
  get failed(): boolean {
    return this.state === 'failed';
  }

  facts(): PrefixFacts {
    return { model: this.model, promptBytes: this.promptBytes, promptPieces: this.promptPieces };
  }

  write(chunk: Uint8Array): void {
    // A Buffer view, for its native indexOf (memchr) over string contents.
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let i = 0; i < bytes.length && this.state !== 'failed'; i++) {
      const byte = bytes[i]!;
      if (this.state === 'string') {
        i =
          this.role === 'key' || this.role === 'model' || this.role === 'type'
            ? this.inName(bytes, i)
            : this.inText(bytes, i);
        continue;
      }
      if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) {
        if (this.state === 'literal') this.state = 'comma-or-end';
        continue;
      }
      this.structural(byte);
    }
  }

  /**
   * Reads a name's string bytes (a key, `model`, a part's `type`: kept) from `i`; returns the index
   * of the last byte consumed.
   */
  private inName(bytes: Buffer, start: number): number {
    let i = start;
    for (; i < bytes.length; i++) {
      const byte = bytes[i]!;
      if (this.escape > 0) {
        this.escaped(byte);
        continue;
      }
      if (byte === BACKSLASH) {
        this.escape = 1;
        this.keepName(undefined);
        continue;
      }
      if (byte === QUOTE) break;
      this.keepName(byte);
    }
    if (i < bytes.length) this.endString();
    return i;
  }

  /**
   * Reads any other string's bytes from `i`, counted, not kept: the runs between quotes and
   * backslashes are skipped with indexOf (a 1 MB prompt in ~0.3 ms, not ~3 ms byte by byte: sixteen
   * refused uploads' prefixes are scanned while a paying request shares the CPU). Returns the index
   * of the last byte consumed.
   */
  private inText(bytes: Buffer, start: number): number {
    let counted = 0;
    let pieces = 0;
    const prompt = this.role === 'content' || this.role === 'part-text';
    // A run the chunk's end cuts: its last byte, to pair with the next chunk's first.
    let tail = 0;
    let i = start;
    // Where the next quote and backslash are, each found once (-1: none in this chunk).
    let quote = -2;
    let backslash = -2;
    while (i < bytes.length) {
      if (this.escape > 0) {
        this.escaped(bytes[i]!);
        tail = 0;
        i++;
        continue;
      }
      // Escapes close together (source code: \n, \", \t every few bytes) are cheaper to step
      // over byte by byte than to search for.
      const run = i;
      const near = Math.min(bytes.length, i + NEAR_BYTES);
      let byte = -1;
      while (i < near) {
        byte = bytes[i]!;
        if (byte === QUOTE || byte === BACKSLASH) break;
        counted++;
        i++;
      }
      if (i === near && i < bytes.length) {
        if (quote !== -1 && quote < i) quote = bytes.indexOf(QUOTE, i);
        if (backslash !== -1 && backslash < i) backslash = bytes.indexOf(BACKSLASH, i);
        const stop = Math.min(
          quote === -1 ? bytes.length : quote,
          backslash === -1 ? bytes.length : backslash,
        );
        counted += stop - i;
        i = stop;
        if (prompt) pieces += letterSpacePairs(bytes, run, i, run === start ? this.runTail : 0);
        if (i === bytes.length) {
          tail = bytes[i - 1]!;
          break;
        }
        byte = bytes[i]!;
      } else if (prompt) {
        pieces += letterSpacePairs(bytes, run, i, run === start ? this.runTail : 0);
        if (i === bytes.length && i > run) tail = bytes[i - 1]!;
      }
      if (i === bytes.length || byte === QUOTE) break;
      this.escape = 1;
      counted++; // the escape decodes to at least one byte
      i++;
    }
    this.addString(counted, pieces);
    this.runTail = tail;
    if (i < bytes.length) this.endString();
    return i;
  }

  /** One byte after a backslash: \" \\ \n ... end there; \uXXXX after four hex digits. */
  private escaped(byte: number): void {
    if (this.escape === 1) this.escape = byte === 0x75 ? 5 : 0;
    else this.escape--;
    if (this.escape === 1) this.escape = 0;
  }

  private keepName(byte: number | undefined): void {
    if (this.role !== 'key' && this.role !== 'model' && this.role !== 'type') return;
    // An escaped name is not one of the plain names looked for: mark it unusable.
    if (byte === undefined || this.name.length >= MAX_NAME_BYTES) this.name.push(-1);
    else this.name.push(byte);
  }

  private addString(bytes: number, pieces = 0): void {
    if (this.role === 'content') {
      this.promptBytes += bytes;
      this.promptPieces += pieces;
    } else if (this.role === 'part-text') {
      const part = this.stack.at(-1);
      if (part) {
        part.pendingText += bytes;
        part.pendingPieces += pieces;
      }
    }
  }

  private nameText(limit: number): string | undefined {
    if (this.name.length > limit || this.name.includes(-1)) return undefined;
    return Buffer.from(this.name).toString('utf8');
  }

  private endString(): void {
    const top = this.stack.at(-1);
    switch (this.role) {
      case 'key':
        if (top) top.key = this.nameText(MAX_KEY_BYTES) ?? '';
        this.state = 'colon';
        break;
      case 'model':
        this.model = this.nameText(MAX_NAME_BYTES);
        this.state = 'comma-or-end';
        break;
      case 'type':
        if (top) top.type = this.nameText(MAX_NAME_BYTES) ?? '';
        this.state = 'comma-or-end';
        break;
      default:
        this.state = 'comma-or-end';
    }
    this.name = [];
  }

  private structural(byte: number): void {
    switch (this.state) {
      case 'value':
        if (byte === 0x7b) this.open(false);
        else if (this.stack.length === 0)
          this.state = 'failed'; // the body is not an object
        else if (byte === 0x5b) this.open(true);
        else if (byte === QUOTE) this.beginString(this.valueRole());
        else if (byte === 0x5d && this.stack.at(-1)?.array) this.close();
        else this.state = 'literal';
        return;
      case 'key-or-end':
        if (byte === QUOTE) this.beginString('key');
        else if (byte === 0x7d) this.close();
        else this.state = 'failed';
        return;
      case 'colon':
        this.state = byte === 0x3a ? 'value' : 'failed';
        return;
      case 'literal':
      case 'comma-or-end':
        if (byte === 0x2c) this.state = this.stack.at(-1)?.array ? 'value' : 'key-or-end';
        else if (byte === 0x7d || byte === 0x5d) this.close();
        else if (this.state !== 'literal') this.state = 'failed';
        return;
      case 'done':
        this.state = 'failed'; // bytes after the top-level object
        return;
      default:
        return;
    }
  }

  private beginString(role: StringRole): void {
    this.role = role;
    this.state = 'string';
    this.name = [];
    this.escape = 0;
    this.runTail = 0;
  }

  private open(array: boolean): void {
    if (this.stack.length >= MAX_JSON_DEPTH) {
      this.state = 'failed';
      return;
    }
    this.stack.push({ array, key: '', pendingText: 0, pendingPieces: 0 });
    this.state = array ? 'value' : 'key-or-end';
  }

  private close(): void {
    const frame = this.stack.pop();
    if (!frame) {
      this.state = 'failed';
      return;
    }
    // A content part closed: its text counts if it said it is a text part.
    if (this.isPart() && frame.type === 'text') {
      this.promptBytes += frame.pendingText;
      this.promptPieces += frame.pendingPieces;
    }
    this.state = this.stack.length === 0 ? 'done' : 'comma-or-end';
  }

  /**
   * Where the string value about to be read sits (the stack: the body, `messages`, a message, its
   * `content` list, a part).
   */
  private valueRole(): StringRole {
    const depth = this.stack.length;
    const top = this.stack[depth - 1];
    if (!top || top.array) return 'other';
    if (depth === 1) return top.key === 'model' ? 'model' : 'other';
    if (this.stack[0]?.key !== 'messages' || !this.stack[1]?.array) return 'other';
    if (depth === 3) return top.key === 'content' ? 'content' : 'other';
    if (depth === 5 && this.stack[2]?.key === 'content' && this.stack[3]?.array) {
      if (top.key === 'text') return 'part-text';
      if (top.key === 'type') return 'type';
    }
    return 'other';
  }

  /** The frame being closed (already popped) was a content part: messages[i].content[j]. */
  private isPart(): boolean {
    return (
      this.stack.length === 4 &&
      this.stack[0]?.key === 'messages' &&
      this.stack[1]?.array === true &&
      this.stack[2]?.key === 'content' &&
      this.stack[3]?.array === true
    );
  }
}

/**
 * Spaces in bytes[from, to) right after an ASCII letter (`before`: the byte before `from` when
 * the same run began in the previous chunk, else 0). The range holds no quote or backslash (an
 * unescaped run of one string), so both bytes are the decoded text's own; a pair made by an
 * escape (\u0041 before a space) is not counted: a lower bound may miss some.
 */
function letterSpacePairs(bytes: Buffer, from: number, to: number, before: number): number {
  let pairs = 0;
  if (from < to && bytes[from] === 0x20 && isAsciiLetter(before)) pairs++;
  for (let k = from + 1; k < to; k++) {
    if (bytes[k] !== 0x20) continue;
    if (isAsciiLetter(bytes[k - 1]!)) pairs++;
  }
  return pairs;
}

function isAsciiLetter(byte: number): boolean {
  const lower = byte | 0x20; // ASCII upper case folded to lower
  return lower >= 0x61 && lower <= 0x7a;
}
