// A strict JSON scanner over UTF-8 bytes, for event lines (ndjson.ts) and the model's metadata (labels.ts):
// it accepts exactly what JSON.parse accepts (up to a nesting depth) and decodes strings as a JavaScript string
// would hold them. Text is taken as node decodes it: invalid UTF-8 in a string becomes U+FFFD (WHATWG), and
// lines are trimmed of JavaScript's white space (String.prototype.trim). Nothing is allocated.

import { JSON_MAX_NESTING } from "../contract/plsm";
import { numberEnd, parseNumber } from "./decimal";
import { decodeUtf8, decodedEnd } from "./utf8";
import { Writer, putByte, putBytes } from "./writer";

// JSON syntax errors: what and where (a position in the line)
export let syntaxWhy: string = "";
export let syntaxAt: usize = 0;
/** JSON.parse has no fixed depth limit but this reader recurses: deeper values are refused (for a .plsm's metadata,
 * the bound its writer keeps to), with TOO_DEEP. */
const MAX_DEPTH: i32 = JSON_MAX_NESTING;
export const TOO_DEEP = "values nested too deeply";

export function syntax(why: string, at: usize): usize {
  syntaxWhy = why;
  syntaxAt = at;
  return 0;
}

@inline function isJsonSpace(c: u32): bool {
  return c == 32 || c == 9 || c == 10 || c == 13;
}

export function skipSpace(p: usize, end: usize): usize {
  while (p < end && isJsonSpace(load<u8>(p))) p++;
  return p;
}

/** Length of the JavaScript white space character (String.prototype.trim) starting at p, or 0. */
function spaceAt(p: usize, end: usize): i32 {
  const b = <u32>load<u8>(p);
  if (b == 32 || (b >= 9 && b <= 13)) return 1;
  if (b == 0xc2 && p + 1 < end && load<u8>(p, 1) == 0xa0) return 2; // U+00A0
  if (p + 2 >= end) return 0;
  const c1 = <u32>load<u8>(p, 1);
  const c2 = <u32>load<u8>(p, 2);
  if (b == 0xe1 && c1 == 0x9a && c2 == 0x80) return 3; // U+1680
  if (b == 0xe2 && c1 == 0x80 && (c2 <= 0x8a || c2 == 0xa8 || c2 == 0xa9 || c2 == 0xaf)) return 3; // U+2000..200A, 2028, 2029, 202F
  if (b == 0xe2 && c1 == 0x81 && c2 == 0x9f) return 3; // U+205F
  if (b == 0xe3 && c1 == 0x80 && c2 == 0x80) return 3; // U+3000
  if (b == 0xef && c1 == 0xbb && c2 == 0xbf) return 3; // U+FEFF
  return 0;
}

/** Length of the JavaScript white space character that ends just before `end`, or 0. */
function spaceBefore(start: usize, end: usize): i32 {
  for (let n = 1; n <= 3; n++) {
    if (end - start < <usize>n) break;
    if (spaceAt(end - <usize>n, end) == n) return n;
  }
  return 0;
}

/** Start and end of the line after trim(). */
export let trimmedStart: usize = 0;
export let trimmedEnd: usize = 0;

export function trim(start: usize, end: usize): void {
  let n: i32;
  while (start < end && (n = spaceAt(start, end)) > 0) start += <usize>n;
  while (end > start && (n = spaceBefore(start, end)) > 0) end -= <usize>n;
  trimmedStart = start;
  trimmedEnd = end;
}

/** Appends code point cp to w as WTF-8 (surrogates, which only \u escapes can give, as 3 bytes). */
function putCodePoint(w: Writer, cp: u32): void {
  if (cp < 0x80) {
    putByte(w, cp);
  } else if (cp < 0x800) {
    putByte(w, 0xc0 | (cp >> 6));
    putByte(w, 0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    putByte(w, 0xe0 | (cp >> 12));
    putByte(w, 0x80 | ((cp >> 6) & 0x3f));
    putByte(w, 0x80 | (cp & 0x3f));
  } else {
    putByte(w, 0xf0 | (cp >> 18));
    putByte(w, 0x80 | ((cp >> 12) & 0x3f));
    putByte(w, 0x80 | ((cp >> 6) & 0x3f));
    putByte(w, 0x80 | (cp & 0x3f));
  }
}

function hexValue(p: usize, end: usize): i32 {
  if (p + 4 > end) return -1;
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const c = <i32>load<u8>(p + <usize>i);
    let d: i32;
    if (c >= 48 && c <= 57) d = c - 48;
    else if ((c | 32) >= 97 && (c | 32) <= 102) d = (c | 32) - 87;
    else return -1;
    v = (v << 4) | d;
  }
  return v;
}

/**
 * The JSON string starting at the quote at p: the position after its closing quote, or 0 (syntax error).
 * Its text goes to `into` as WTF-8 when `into` is given.
 */
export function scanString(p: usize, end: usize, into: Writer | null): usize {
  p++;
  while (true) {
    if (p >= end) return syntax("unterminated string", p);
    const c = <u32>load<u8>(p);
    if (c == 34) return p + 1;
    if (c < 0x20) return syntax("control character in a string", p);
    if (c == 92) {
      if (p + 1 >= end) return syntax("unterminated string", p + 1);
      const e = <u32>load<u8>(p, 1);
      let cp: u32;
      if (e == 117) { // u
        const unit = hexValue(p + 2, end);
        if (unit < 0) return syntax("bad \\u escape", p);
        cp = <u32>unit;
        p += 6;
        // a high surrogate followed by an escaped low surrogate is one code point
        if (cp >= 0xd800 && cp <= 0xdbff && p + 1 < end && load<u8>(p) == 92 && load<u8>(p, 1) == 117) {
          const low = hexValue(p + 2, end);
          if (low >= 0xdc00 && low <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (<u32>low - 0xdc00);
            p += 6;
          }
        }
      } else {
        if (e == 34 || e == 92 || e == 47) cp = e;
        else if (e == 98) cp = 8;
        else if (e == 102) cp = 12;
        else if (e == 110) cp = 10;
        else if (e == 114) cp = 13;
        else if (e == 116) cp = 9;
        else return syntax("bad escape in a string", p);
        p += 2;
      }
      if (into) putCodePoint(into, cp);
      continue;
    }
    if (c < 0x80) {
      if (into) putByte(into, c);
      p++;
      continue;
    }
    const cp = decodeUtf8(p, end);
    if (into) {
      if (cp == 0xfffd) putCodePoint(into, cp);
      else putBytes(into, p, <i32>(decodedEnd - p));
    }
    p = decodedEnd;
  }
}

export function expectWord(p: usize, end: usize, word: string): usize {
  const n = word.length;
  if (p + <usize>n > end) return syntax("unexpected end of the line", end);
  for (let i = 0; i < n; i++) {
    if (<i32>load<u8>(p + <usize>i) != word.charCodeAt(i)) return syntax("unexpected character", p + <usize>i);
  }
  return p + <usize>n;
}

@inline export function startsNumber(c: u32): bool {
  return c == 45 || c - 48 < 10;
}

export function scanNumber(p: usize, end: usize): usize {
  const v = parseNumber(p, end);
  if (v != v) return syntax("malformed number", numberEnd);
  return numberEnd;
}

/** Any JSON value at p: the position after it, or 0. */
export function skipValue(p: usize, end: usize, depth: i32): usize {
  if (p >= end) return syntax("unexpected end of the line", p);
  const c = <u32>load<u8>(p);
  if (c == 34) return scanString(p, end, null);
  if (startsNumber(c)) return scanNumber(p, end);
  if (c == 116) return expectWord(p, end, "true");
  if (c == 102) return expectWord(p, end, "false");
  if (c == 110) return expectWord(p, end, "null");
  if (c != 123 && c != 91) return syntax("unexpected character", p);
  if (depth >= MAX_DEPTH) return syntax(TOO_DEEP, p);
  const close: u32 = c == 123 ? 125 : 93;
  p = skipSpace(p + 1, end);
  if (p < end && load<u8>(p) == close) return p + 1;
  while (true) {
    if (c == 123) {
      if (p >= end || load<u8>(p) != 34) return syntax("expected a property name", p);
      p = scanString(p, end, null);
      if (p == 0) return 0;
      p = skipSpace(p, end);
      if (p >= end || load<u8>(p) != 58) return syntax("expected ':'", p);
      p = skipSpace(p + 1, end);
    }
    p = skipValue(p, end, depth + 1);
    if (p == 0) return 0;
    p = skipSpace(p, end);
    if (p >= end) return syntax("unexpected end of the line", p);
    const d = <u32>load<u8>(p);
    if (d == close) return p + 1;
    if (d != 44) return syntax(c == 123 ? "expected ',' or '}'" : "expected ',' or ']'", p);
    p = skipSpace(p + 1, end);
  }
}

