/**
 * Incremental Server-Sent Events splitting over raw bytes, plus the cheap string scans the taps use.
 *
 * The splitter finds event boundaries (a blank line: LF LF, CRLF CRLF, CR CR, or any mix) without
 * decoding: an event wholly inside one chunk is handed out as a zero-copy view of that chunk; only
 * the unfinished tail of a chunk is copied and kept, as a list of pieces joined once when the event
 * completes (no quadratic concatenation when one large event arrives in many chunks). Because events
 * are decoded only once complete, a multi-byte UTF-8 character split across chunks is never torn.
 */

const LF = 0x0a;
const CR = 0x0d;

export class SseSplitter {
  /** Copied bytes of the unfinished event, in order. */
  private pending: Uint8Array[] = [];
  private pendingLength = 0;
  /** The current line has at least one byte that is not a line ending. */
  private lineHasContent = false;
  /** The previous chunk ended with a CR line ending, so a LF at offset 0 completes it. */
  private endedWithCR = false;
  /** The event ended with a blank line whose CR was the chunk's last byte: a LF may still belong to it. */
  private awaitingLF = false;

  /** True when bytes of an unfinished event are held. */
  get holding(): boolean {
    return this.pendingLength > 0;
  }

  /** Calls onEvent, in order, with the bytes of every event completed by this chunk (its terminator included). */
  push(chunk: Uint8Array, onEvent: (event: Uint8Array) => void): void {
    const length = chunk.length;
    if (length === 0) return;
    let i = 0;
    let eventStart = 0;
    if (this.awaitingLF) {
      this.awaitingLF = false;
      const end = chunk[0] === LF ? 1 : 0;
      onEvent(this.takePending(chunk, 0, end));
      i = eventStart = end;
    }
    let afterCR = this.endedWithCR ? 0 : -1;
    // Cached positions of the next LF / CR (length when none), so each byte is searched once.
    let nextLF = -1;
    let nextCR = -1;
    while (i < length) {
      if (nextLF < i) nextLF = indexOrEnd(chunk, LF, i);
      if (nextCR < i) nextCR = indexOrEnd(chunk, CR, i);
      const p = Math.min(nextLF, nextCR);
      if (p === length) {
        this.lineHasContent = true;
        i = length;
        break;
      }
      if (p > i) this.lineHasContent = true;
      const byte = chunk[p];
      if (byte === LF && p === afterCR) {
        // Second half of a CRLF already counted as one line ending.
        i = p + 1;
        continue;
      }
      if (this.lineHasContent) {
        this.lineHasContent = false;
        afterCR = byte === CR ? p + 1 : -1;
        i = p + 1;
        continue;
      }
      // A blank line: the event ends here.
      let end = p + 1;
      if (byte === CR) {
        if (end === length) {
          this.stash(chunk, eventStart, end);
          this.awaitingLF = true;
          this.endedWithCR = false;
          return;
        }
        if (chunk[end] === LF) end++;
      }
      onEvent(this.takePending(chunk, eventStart, end));
      afterCR = -1;
      i = eventStart = end;
    }
    this.endedWithCR = afterCR === length;
    if (eventStart < length) this.stash(chunk, eventStart, length);
  }

  /** End of stream: the bytes of the unfinished (or not yet dispatched) event, if any. */
  flush(): Uint8Array | null {
    this.awaitingLF = false;
    this.lineHasContent = false;
    this.endedWithCR = false;
    if (this.pendingLength === 0) return null;
    return this.takePending(EMPTY, 0, 0);
  }

  private stash(chunk: Uint8Array, start: number, end: number): void {
    // A copy: the caller forwards (and may hand off) the chunk itself.
    this.pending.push(chunk.slice(start, end));
    this.pendingLength += end - start;
  }

  private takePending(chunk: Uint8Array, start: number, end: number): Uint8Array {
    if (this.pendingLength === 0) return chunk.subarray(start, end);
    const out = new Uint8Array(this.pendingLength + (end - start));
    let offset = 0;
    for (const piece of this.pending) {
      out.set(piece, offset);
      offset += piece.length;
    }
    out.set(chunk.subarray(start, end), offset);
    this.pending = [];
    this.pendingLength = 0;
    return out;
  }
}

const EMPTY = new Uint8Array(0);

function indexOrEnd(chunk: Uint8Array, byte: number, from: number): number {
  const at = chunk.indexOf(byte, from);
  return at < 0 ? chunk.length : at;
}

export interface SseFields {
  /** The `event:` field, when present. */
  event: string | undefined;
  /** The `data:` lines joined with LF; undefined when the event has none. */
  data: string | undefined;
}

/** Parses one event's text into its `event` and `data` fields (comments and other fields ignored). */
export function parseSseFields(text: string): SseFields {
  let event: string | undefined;
  let data: string | undefined;
  // Lines end at LF (the common case, found with indexOf) or CR; CRLF counts once.
  const hasCR = text.indexOf('\r') >= 0;
  const length = text.length;
  let start = 0;
  while (start < length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = length;
    if (hasCR) {
      const cr = text.indexOf('\r', start);
      if (cr >= 0 && cr < end) end = cr;
    }
    if (end > start && text.charCodeAt(start) !== 0x3a /* ':' comment */) {
      if (text.startsWith('data', start)) {
        const value = fieldValue(text, start + 4, end);
        if (value !== undefined) data = data === undefined ? value : data + '\n' + value;
      } else if (text.startsWith('event', start)) {
        const value = fieldValue(text, start + 5, end);
        if (value !== undefined) event = value;
      }
    }
    if (text.charCodeAt(end) === CR && text.charCodeAt(end + 1) === LF) end++;
    start = end + 1;
  }
  return { event, data };
}

/** The value of a field whose name ends at `at`: after `:` and one optional space; undefined for another name. */
function fieldValue(text: string, at: number, end: number): string | undefined {
  if (at === end) return '';
  if (text.charCodeAt(at) !== 0x3a) return undefined;
  const from = text.charCodeAt(at + 1) === 0x20 ? at + 2 : at + 1;
  return from >= end ? '' : text.slice(from, end);
}

/**
 * The event type: the `event:` field, else a leading `{"type":"..."` in the data (both Anthropic and the
 * Responses API put `type` first), without parsing the JSON.
 */
export function sseEventType(fields: SseFields): string | undefined {
  if (fields.event !== undefined) return fields.event;
  const data = fields.data;
  if (data === undefined || !data.startsWith('{"type":"')) return undefined;
  const end = data.indexOf('"', 9);
  return end < 0 ? undefined : data.slice(9, end);
}

/**
 * A matcher for `"key":"..."` string members of the given keys. A match is a real key: inside a JSON
 * string every quote is escaped, so `"key":"` cannot occur there; non-string values are skipped.
 */
export function stringMembersOf(keys: readonly string[]): RegExp {
  const names = keys.map((key) => key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return new RegExp(`"(?:${names})": *"`, 'g');
}

/** Appends to `out` the value of every string member the matcher finds in a JSON text, without parsing it. */
export function collectStringMembers(json: string, matcher: RegExp, out: string[]): void {
  matcher.lastIndex = 0;
  for (let match = matcher.exec(json); match !== null; match = matcher.exec(json)) {
    const start = matcher.lastIndex - 1;
    const end = closingQuote(json, start + 1);
    if (end < 0) return;
    matcher.lastIndex = end + 1;
    if (end === start + 1) continue;
    const raw = json.slice(start + 1, end);
    if (raw.indexOf('\\') < 0) {
      out.push(raw);
    } else {
      try {
        out.push(JSON.parse(json.slice(start, end + 1)) as string);
      } catch {
        out.push(raw);
      }
    }
  }
}

/** Index of the quote closing a JSON string whose body starts at `from`; -1 when unterminated. */
function closingQuote(json: string, from: number): number {
  let at = json.indexOf('"', from);
  while (at >= 0) {
    let backslashes = 0;
    for (let k = at - 1; k >= from && json.charCodeAt(k) === 0x5c; k--) backslashes++;
    if (backslashes % 2 === 0) return at;
    at = json.indexOf('"', at + 1);
  }
  return -1;
}

/** JSON.parse that answers undefined instead of throwing (streams may carry garbage). */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Joins text pieces lazily, once per read, keeping the joined result as the single piece. */
export class TextPieces {
  private pieces: string[] = [];

  get list(): string[] {
    return this.pieces;
  }

  text(): string {
    if (this.pieces.length === 0) return '';
    if (this.pieces.length > 1) this.pieces = [this.pieces.join('')];
    return this.pieces[0] ?? '';
  }
}
