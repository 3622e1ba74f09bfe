// One NDJSON event line (shared/spec/formats.md, "Events") read as `phasor run` reads it (host/engine/events.ts): the
// line is JSON.parse'd (strict JSON), a field of the event given twice is refused (JSON.parse would keep the last),
// then t, x, seq and label are checked in that order with the same rules and messages. Nothing is allocated per line.

import { numberEnd, parseNumber } from "./decimal";
import { expectWord, scanString, skipSpace, skipValue, startsNumber, syntax, syntaxAt, syntaxWhy } from "./json";
import { SEQ_NONE, SEQ_NUMBER, SEQ_STRING } from "./sequences";
import { decodeUtf8, decodedEnd } from "./utf8";
import { Writer, putBytes, putInt, putText } from "./writer";


/** The last event read: t, x (f32, inputSize of them, at the caller's buffer), its seq, and its label (NaN when
 * it has none or null). */
export let eventT: f64 = 0;
export let seqKind: i32 = SEQ_NONE;
export let seqNumber: f64 = 0;
export let eventLabel: f64 = NaN;

// Why an element of x is bad, in the order host/engine/events.ts checks it.
const X_NOT_NUMBER: i32 = 0;
const X_NOT_FINITE: i32 = 1;
const X_BEYOND_F32: i32 = 2;
/** The largest finite f32: host/engine/events.ts refuses anything beyond it, rather than let it round down to it
 * here. */
const F32_MAX: f64 = 3.4028234663852886e38;

// What a field held, for the checks after the whole object is read (a field given twice is refused: readEvent).
const ABSENT: i32 = 0;
const NUMBER: i32 = 1;
const OTHER: i32 = 2; // any other JSON value (its text is kept for the message)
const NULL: i32 = 3;
const ARRAY: i32 = 4;
const STRING: i32 = 5;

let tHeld = ABSENT;
let xHeld = ABSENT;
let xCount = 0;
/** index of the first element of x that is not a finite number within the f32 range, -1 when none; and why */
let xBad = -1;
let xBadWhy = X_NOT_NUMBER;
let seqHeld = ABSENT;
let labelHeld = ABSENT;
let labelValue: f64 = 0;
// where the raw text of a field's value is, for "got ..." in messages
let tText: usize = 0;
let tTextEnd: usize = 0;
let xText: usize = 0;
let xTextEnd: usize = 0;
let seqText: usize = 0;
let seqTextEnd: usize = 0;
let labelText: usize = 0;
let labelTextEnd: usize = 0;
let xBadText: usize = 0;
let xBadTextEnd: usize = 0;

/** The value of "x": an array of numbers goes to x (f32, at most inputSize of them); anything else is OTHER. */
function readX(p: usize, end: usize, x: usize, inputSize: i32): usize {
  xText = p;
  xCount = 0;
  xBad = -1;
  if (load<u8>(p) != 91) {
    xHeld = OTHER;
    p = skipValue(p, end, 1);
    xTextEnd = p;
    return p;
  }
  xHeld = ARRAY;
  p = skipSpace(p + 1, end);
  if (p < end && load<u8>(p) == 93) {
    xTextEnd = p + 1;
    return p + 1;
  }
  while (true) {
    if (p >= end) return syntax("unexpected end of the line", p);
    const start = p;
    if (startsNumber(load<u8>(p))) {
      const v = parseNumber(p, end);
      if (v != v) return syntax("malformed number", numberEnd);
      p = numberEnd;
      if (xCount < inputSize) store<f32>(x + (<usize>xCount << 2), <f32>v);
      if (xBad < 0 && !(Math.abs(v) <= F32_MAX)) {
        xBad = xCount;
        xBadWhy = isFinite(v) ? X_BEYOND_F32 : X_NOT_FINITE;
      }
    } else {
      p = skipValue(p, end, 2);
      if (p == 0) return 0;
      if (xBad < 0) {
        xBad = xCount;
        xBadWhy = X_NOT_NUMBER;
        xBadText = start;
        xBadTextEnd = p;
      }
    }
    xCount++;
    p = skipSpace(p, end);
    if (p >= end) return syntax("unexpected end of the line", p);
    const d = load<u8>(p);
    if (d == 93) {
      xTextEnd = p + 1;
      return p + 1;
    }
    if (d != 44) return syntax("expected ',' or ']'", p);
    p = skipSpace(p + 1, end);
  }
}

/** A value that must be a number for the field: NUMBER with its value in `numberValue`, NULL, or OTHER. */
let numberValue: f64 = 0;
let heldKind: i32 = ABSENT;

function readScalar(p: usize, end: usize, seq: Writer | null): usize {
  const c = <u32>load<u8>(p);
  if (startsNumber(c)) {
    const v = parseNumber(p, end);
    if (v != v) return syntax("malformed number", numberEnd);
    numberValue = v;
    heldKind = NUMBER;
    return numberEnd;
  }
  if (c == 110) {
    heldKind = NULL;
    return expectWord(p, end, "null");
  }
  if (c == 34 && seq) {
    seq.length = 0;
    heldKind = STRING;
    return scanString(p, end, seq);
  }
  heldKind = OTHER;
  return skipValue(p, end, 1);
}

// Known keys, decoded (escapes included) before they are compared.
const KEY_T: i32 = 1;
const KEY_X: i32 = 2;
const KEY_SEQ: i32 = 3;
const KEY_LABEL: i32 = 4;

function keyOf(key: Writer): i32 {
  const p = key.buffer;
  const n = key.length;
  if (n == 1 && load<u8>(p) == 116) return KEY_T;
  if (n == 1 && load<u8>(p) == 120) return KEY_X;
  if (n == 3 && load<u8>(p) == 115 && load<u8>(p, 1) == 101 && load<u8>(p, 2) == 113) return KEY_SEQ;
  if (n == 5 && memory.compare(p, changetype<usize>(LABEL_KEY), 5) == 0) return KEY_LABEL;
  return 0;
}
const LABEL_KEY = memory.data<u8>([108, 97, 98, 101, 108]);

/** The byte at `at`, A-Z folded to a-z. */
@inline function lowerAt(at: usize): u32 {
  const c = <u32>load<u8>(at);
  return c - 65 < 26 ? c + 32 : c;
}

/** Whether the n bytes at a, A-Z folded, and the m bytes at b are equal. */
function sameLower(a: usize, b: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (lowerAt(a + i) != <u32>load<u8>(b + i)) return false;
  return true;
}

/**
 * The known key that a key of the line's own looks like misspelt, as host/misspelt.ts `misspeltName` decides it:
 * equal up to case (A-Z only), or one edit from "label" (a character inserted, removed or changed, or two
 * neighbours swapped); 0 for none, and for a key with a byte outside printable ASCII.
 */
function lookalikeOf(key: Writer): i32 {
  const p = key.buffer;
  const n = key.length;
  for (let i = 0; i < n; i++) if (<u32>load<u8>(p + i) - 32 > 94) return 0;
  if (n == 1 && lowerAt(p) == 116) return KEY_T;
  if (n == 1 && lowerAt(p) == 120) return KEY_X;
  if (n == 3 && lowerAt(p) == 115 && lowerAt(p + 1) == 101 && lowerAt(p + 2) == 113) return KEY_SEQ;
  if (n < 4 || n > 6) return 0;
  const b = changetype<usize>(LABEL_KEY);
  let i = 0;
  while (i < n && i < 5 && lowerAt(p + i) == <u32>load<u8>(b + i)) i++;
  let near: bool;
  if (n > 5) near = sameLower(p + i + 1, b + i, 5 - i);
  else if (n < 5) near = sameLower(p + i, b + i + 1, n - i);
  else {
    near = i == 5 || sameLower(p + i + 1, b + i + 1, 4 - i);
    near = near || (i < 4 && lowerAt(p + i) == <u32>load<u8>(b + i + 1) && lowerAt(p + i + 1) == <u32>load<u8>(b + i) && sameLower(p + i + 2, b + i + 2, 3 - i));
  }
  return near ? KEY_LABEL : 0;
}
const KEY_NAMES = ["", "t", "x", "seq", "label"];
/** where the first key of the line's own that looks like a known one begins (its opening quote), 0 for none; and
 * the known key */
let lookalikeAt: usize = 0;
let lookalikeKey: i32 = 0;

/** The first of the known keys given a second time in the line (host/engine/events.ts refuses it after the
 * lookalikes), 0 for none. */
let repeatedKey: i32 = 0;

/** What the line has given the field of known key `which` so far (ABSENT before its first). */
function heldOf(which: i32): i32 {
  if (which == KEY_T) return tHeld;
  if (which == KEY_X) return xHeld;
  return which == KEY_SEQ ? seqHeld : labelHeld;
}

/** The object's members: the position after its closing brace, or 0. */
function readObject(p: usize, end: usize, x: usize, inputSize: i32, key: Writer, seq: Writer): usize {
  p = skipSpace(p + 1, end);
  if (p < end && load<u8>(p) == 125) return p + 1;
  while (true) {
    if (p >= end || load<u8>(p) != 34) return syntax("expected a property name", p);
    key.length = 0;
    const keyAt = p;
    p = scanString(p, end, key);
    if (p == 0) return 0;
    p = skipSpace(p, end);
    if (p >= end || load<u8>(p) != 58) return syntax("expected ':'", p);
    p = skipSpace(p + 1, end);
    if (p >= end) return syntax("unexpected end of the line", p);
    const start = p;
    const which = keyOf(key);
    if (which != 0 && repeatedKey == 0 && heldOf(which) != ABSENT) repeatedKey = which;
    if (which == KEY_X) {
      p = readX(p, end, x, inputSize);
    } else if (which == KEY_T || which == KEY_LABEL || which == KEY_SEQ) {
      p = readScalar(p, end, which == KEY_SEQ ? seq : null);
      if (which == KEY_T) {
        tHeld = heldKind;
        eventT = numberValue;
        tText = start;
        tTextEnd = p;
      } else if (which == KEY_LABEL) {
        labelHeld = heldKind;
        labelValue = numberValue;
        labelText = start;
        labelTextEnd = p;
      } else {
        seqHeld = heldKind;
        seqNumber = numberValue;
        seqText = start;
        seqTextEnd = p;
      }
    } else {
      if (lookalikeAt == 0) {
        lookalikeKey = lookalikeOf(key);
        if (lookalikeKey != 0) lookalikeAt = keyAt;
      }
      p = skipValue(p, end, 1);
    }
    if (p == 0) return 0;
    p = skipSpace(p, end);
    if (p >= end) return syntax("unexpected end of the line", p);
    const d = load<u8>(p);
    if (d == 125) return p + 1;
    if (d != 44) return syntax("expected ',' or '}'", p);
    p = skipSpace(p + 1, end);
  }
}

/** The largest integer Number.isSafeInteger accepts. */
const MAX_SAFE_INTEGER: f64 = 9007199254740991;

/**
 * Reads the event on the trimmed, non-empty line [start, end) (`line` is where the untrimmed line begins, for
 * columns): true with eventT, x (inputSize f32 at x), seqKind and seqNumber or the seq's WTF-8 text in `seq`;
 * false with the reason in `reason`, worded as host/engine/events.ts words it.
 */
export function readEvent(line: usize, start: usize, end: usize, x: usize, inputSize: i32, key: Writer, seq: Writer, reason: Writer): bool {
  tHeld = ABSENT;
  xHeld = ABSENT;
  seqHeld = ABSENT;
  labelHeld = ABSENT;
  lookalikeAt = 0;
  repeatedKey = 0;
  let p: usize;
  const isObject = load<u8>(start) == 123;
  if (isObject) p = readObject(start, end, x, inputSize, key, seq);
  else p = skipValue(start, end, 0);
  if (p != 0) {
    p = skipSpace(p, end);
    if (p < end) p = syntax("unexpected text after the JSON value", p);
  }
  if (p == 0) {
    putText(reason, "not JSON: ");
    putText(reason, syntaxWhy);
    putText(reason, " at column ");
    putInt(reason, <i64>(syntaxAt - line) + 1);
    const c = <u32>load<u8>(start);
    if (c == 43 || c == 46 || c == 45 || c - 48 < 10 || csvHeaderWithTLater(start, end)) putText(reason, ' (a CSV file needs a header line starting with "t,")');
    return false;
  }
  if (!isObject) {
    putText(reason, "not a JSON object");
    return false;
  }
  if (lookalikeAt != 0) {
    // the key again, decoded: the first of the line's own that looks like a known one, as Object.keys has them
    key.length = 0;
    scanString(lookalikeAt, end, key);
    putText(reason, '"');
    putBytes(reason, key.buffer, key.length);
    putText(reason, '" looks like "');
    putText(reason, KEY_NAMES[lookalikeKey]);
    return because(reason, "\" misspelt (a field of your own must differ from the format's by more than case or one letter)");
  }
  if (repeatedKey != 0) {
    putText(reason, '"');
    putText(reason, KEY_NAMES[repeatedKey]);
    return because(reason, '" is given twice');
  }
  if (tHeld == ABSENT) return because(reason, 'missing "t"');
  if (tHeld != NUMBER) return got(reason, '"t" must be a number, got ', tText, tTextEnd);
  if (!isFinite(eventT)) return because(reason, '"t" is not finite');
  if (xHeld == ABSENT) return because(reason, 'missing "x"');
  if (xHeld != ARRAY) {
    putText(reason, '"x" must be an array of ');
    putInt(reason, inputSize);
    return got(reason, " numbers, got ", xText, xTextEnd);
  }
  if (xCount != inputSize) {
    putText(reason, '"x" has ');
    putInt(reason, xCount);
    putText(reason, " numbers, the model's inputSize is ");
    putInt(reason, inputSize);
    return false;
  }
  if (xBad >= 0) {
    putText(reason, '"x[');
    putInt(reason, xBad);
    if (xBadWhy == X_NOT_FINITE) return because(reason, ']" is not finite');
    if (xBadWhy == X_BEYOND_F32) return because(reason, ']" is beyond the 32-bit float range (+-3.4e38) the engines take');
    return got(reason, ']" must be a number, got ', xBadText, xBadTextEnd);
  }
  if (seqHeld == NUMBER) {
    // as host/engine/events.ts words it: an integer the JSON number cannot hold exactly is no error of type
    if (isFinite(seqNumber) && Math.floor(seqNumber) == seqNumber && Math.abs(seqNumber) > MAX_SAFE_INTEGER) {
      return because(reason, '"seq" is an integer beyond +-(2^53 - 1), which JSON numbers do not hold exactly: give such an id as a string');
    }
    if (!(Math.floor(seqNumber) == seqNumber && Math.abs(seqNumber) <= MAX_SAFE_INTEGER)) {
      return got(reason, '"seq" must be a string or an integer, got ', seqText, seqTextEnd);
    }
    seqKind = SEQ_NUMBER;
    if (seqNumber == 0) seqNumber = 0; // -0 and 0 are one seq, printed 0
  } else if (seqHeld == STRING) {
    seqKind = SEQ_STRING;
  } else if (seqHeld == OTHER) {
    return got(reason, '"seq" must be a string or an integer, got ', seqText, seqTextEnd);
  } else {
    seqKind = SEQ_NONE;
  }
  if (labelHeld == OTHER || (labelHeld == NUMBER && !isFinite(labelValue))) {
    return got(reason, '"label" must be a finite number, got ', labelText, labelTextEnd);
  }
  eventLabel = labelHeld == NUMBER ? labelValue : NaN;
  return true;
}

function because(reason: Writer, why: string): bool {
  putText(reason, why);
  return false;
}

/** why + the value's text as written, cut as host/engine/events.ts `show` cuts JSON: past 40 UTF-16 units (as node
 * decodes the bytes), to the characters of the first 37 and "...". */
function got(reason: Writer, why: string, text: usize, textEnd: usize): bool {
  putText(reason, why);
  let units = 0;
  let cut = text; // the end of the characters within the first 37 units
  let p = text;
  while (p < textEnd && units <= 40) {
    const b = <u32>load<u8>(p);
    const cp = b < 0x80 ? b : decodeUtf8(p, textEnd);
    p = b < 0x80 ? p + 1 : decodedEnd;
    units += cp >= 0x10000 ? 2 : 1;
    if (units <= 37) cut = p;
  }
  if (units > 40) {
    putBytes(reason, text, <i32>(cut - text));
    putText(reason, "...");
  } else {
    putBytes(reason, text, <i32>(textEnd - text));
  }
  return false;
}

/** Whether the line is a CSV header whose column t is not first: no JSON bracket in it, and a field after the first
 * that is t or "t", spaces and tabs around it (host/engine/events.ts, csvHeaderWithTLater). */
function csvHeaderWithTLater(start: usize, end: usize): bool {
  for (let p = start; p < end; p++) {
    const c = <u32>load<u8>(p);
    if (c == 123 || c == 125 || c == 91 || c == 93) return false; // { } [ ]
  }
  for (let p = start; p < end; p++) {
    if (load<u8>(p) != 44) continue; // a comma: does the field after it hold t alone?
    let q = skipBlanks(p + 1, end);
    const quoted = q < end && load<u8>(q) == 34;
    if (quoted) q++;
    if (q >= end || load<u8>(q) != 116) continue; // t
    q++;
    if (quoted) {
      if (q >= end || load<u8>(q) != 34) continue;
      q++;
    }
    q = skipBlanks(q, end);
    if (q == end || load<u8>(q) == 44) return true;
  }
  return false;
}

/** the first byte at or after p that is not a space or a tab */
function skipBlanks(p: usize, end: usize): usize {
  while (p < end && (load<u8>(p) == 32 || load<u8>(p) == 9)) p++;
  return p;
}
