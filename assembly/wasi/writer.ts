// Buffered text out: NDJSON lines to stdout in large writes, messages to stderr, and in-memory text (fd -1, the
// buffer grows) for the pieces a message or a line is built from. Numbers and strings are written exactly as
// JavaScript's String(number) and JSON.stringify(string) write them, so the output matches `phasor run`'s.

import { errno, fd_write } from "bindings/wasi_snapshot_preview1";
import { NUMBER_MAX_CHARS, formatNumber } from "./shortest";
import { decodeUtf8, decodedEnd } from "./utf8";

@unmanaged
export class Writer {
  /** 1 stdout, 2 stderr, -1 text kept in memory */
  fd: i32;
  buffer: usize;
  capacity: i32;
  length: i32;
  /** the WASI error of a failed write, or 0 */
  error: i32;
}

export function newWriter(fd: i32, capacity: i32): Writer {
  const w = changetype<Writer>(heap.alloc(offsetof<Writer>()));
  w.fd = fd;
  w.buffer = heap.alloc(<usize>capacity);
  w.capacity = capacity;
  w.length = 0;
  w.error = 0;
  return w;
}

const iov = memory.data(16, 8);

/** Writes out what is buffered; false (and w.error set) when the file descriptor refuses it. */
export function flush(w: Writer): bool {
  if (w.fd < 0) return true;
  let at = w.buffer;
  let left = <usize>w.length;
  w.length = 0;
  while (left > 0 && w.error == 0) {
    store<usize>(iov, at);
    store<usize>(iov, left, sizeof<usize>());
    const status = fd_write(w.fd, iov, 1, iov + 8);
    if (status == errno.INTR || status == errno.AGAIN) continue;
    if (status != errno.SUCCESS) w.error = status;
    const written = <usize>load<u32>(iov, 8);
    at += written;
    left -= written;
  }
  return w.error == 0;
}

/** Makes room for n more bytes: writes the buffer out, or (in-memory text) grows it. */
function room(w: Writer, n: i32): void {
  if (w.length + n <= w.capacity) return;
  if (w.fd >= 0 && n <= w.capacity) {
    flush(w);
    return;
  }
  let capacity = w.capacity;
  while (capacity < w.length + n) capacity <<= 1;
  const grown = heap.alloc(<usize>capacity);
  memory.copy(grown, w.buffer, <usize>w.length);
  heap.free(w.buffer);
  w.buffer = grown;
  w.capacity = capacity;
}

@inline export function putByte(w: Writer, b: i32): void {
  room(w, 1);
  store<u8>(w.buffer + <usize>(w.length++), <u8>b);
}

export function putBytes(w: Writer, from: usize, n: i32): void {
  room(w, n);
  memory.copy(w.buffer + <usize>w.length, from, <usize>n);
  w.length += n;
}

/** An ASCII string (the source's literals). */
export function putText(w: Writer, text: string): void {
  const n = text.length;
  room(w, n);
  for (let i = 0; i < n; i++) store<u8>(w.buffer + <usize>(w.length + i), <u8>text.charCodeAt(i));
  w.length += n;
}

export function putInt(w: Writer, v: i64): void {
  room(w, 20);
  if (v < 0) {
    store<u8>(w.buffer + <usize>(w.length++), 45);
    v = -v;
  }
  let digits = 1;
  for (let x = v; x >= 10; x /= 10) digits++;
  for (let i = digits - 1; i >= 0; i--) {
    store<u8>(w.buffer + <usize>(w.length + i), <u8>(48 + <i32>(v % 10)));
    v /= 10;
  }
  w.length += digits;
}

/** A number as JSON.stringify writes it: String(v) when finite, null otherwise. */
export function putNumber(w: Writer, v: f64): void {
  if (!isFinite(v)) {
    putText(w, "null");
    return;
  }
  room(w, NUMBER_MAX_CHARS);
  w.length += formatNumber(v, w.buffer + <usize>w.length);
}

/** "[v0,v1,...]" of n f64 at values. */
export function putNumbers(w: Writer, values: usize, n: i32): void {
  putByte(w, 91);
  for (let k = 0; k < n; k++) {
    if (k > 0) putByte(w, 44);
    putNumber(w, load<f64>(values + (<usize>k << 3)));
  }
  putByte(w, 93);
}

const HEX = memory.data<u8>([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);

function putEscapedUnit(w: Writer, unit: i32): void {
  room(w, 6);
  const at = w.buffer + <usize>w.length;
  store<u8>(at, 92);
  store<u8>(at, 117, 1);
  for (let i = 0; i < 4; i++) store<u8>(at + <usize>(2 + i), load<u8>(HEX + <usize>((unit >> (12 - 4 * i)) & 15)));
  w.length += 6;
}

/**
 * A string held as WTF-8 (UTF-8 that may also encode lone surrogates, as JavaScript strings can hold them),
 * quoted and escaped as JSON.stringify does: \" \\ \b \f \n \r \t, other control characters and lone
 * surrogates as lowercase \u escapes, everything else as is.
 */
export function putJsonString(w: Writer, text: usize, n: i32): void {
  putByte(w, 34);
  let i = 0;
  while (i < n) {
    const b = <i32>load<u8>(text + <usize>i);
    if (b >= 0x80) {
      if (b == 0xed && i + 2 < n && load<u8>(text + <usize>i + 1) >= 0xa0) {
        // a lone surrogate: ED A0..BF xx
        putEscapedUnit(w, 0xd000 | ((<i32>load<u8>(text + <usize>i + 1) & 0x3f) << 6) | (<i32>load<u8>(text + <usize>i + 2) & 0x3f));
        i += 3;
      } else {
        putByte(w, b);
        i++;
      }
      continue;
    }
    i++;
    if (b == 34 || b == 92) {
      putByte(w, 92);
      putByte(w, b);
    } else if (b >= 0x20) {
      putByte(w, b);
    } else {
      putEscaped(w, b);
    }
  }
  putByte(w, 34);
}

/** A character as JSON.stringify escapes it: \b \f \n \r \t, or a lowercase \u escape. */
function putEscaped(w: Writer, unit: i32): void {
  if (unit == 8) putText(w, "\\b");
  else if (unit == 9) putText(w, "\\t");
  else if (unit == 10) putText(w, "\\n");
  else if (unit == 12) putText(w, "\\f");
  else if (unit == 13) putText(w, "\\r");
  else putEscapedUnit(w, unit);
}

/**
 * Whether a message must escape code point cp: control characters (C0, DEL, C1), the line and paragraph
 * separators and the bidirectional-text controls, which a terminal acts on or reorders text around (the set of
 * host/errors.ts escapeControls).
 */
function unprintable(cp: u32): bool {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/**
 * A message's text (UTF-8 that may quote any bytes of the input) as it may be printed: decoded as node decodes
 * it (an invalid sequence is U+FFFD, as `phasor run` shows it), unprintable characters escaped as
 * host/errors.ts escapeControls escapes them (\n, \u001b, ...), everything else as is.
 */
export function putPrintable(w: Writer, text: usize, n: i32): void {
  const end = text + <usize>n;
  let p = text;
  while (p < end) {
    const b = <u32>load<u8>(p);
    const cp = b < 0x80 ? b : decodeUtf8(p, end);
    const next = b < 0x80 ? p + 1 : decodedEnd;
    if (unprintable(cp)) putEscaped(w, <i32>cp);
    else if (cp == 0xfffd) putBytes(w, changetype<usize>(REPLACEMENT), 3);
    else putBytes(w, p, <i32>(next - p));
    p = next;
  }
}
const REPLACEMENT = memory.data<u8>([0xef, 0xbf, 0xbd]);

