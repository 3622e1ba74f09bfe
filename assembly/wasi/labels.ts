// A .plsm's metadata (docs/plsm.md, "Metadata"), checked and read as host/model/plsm.ts checks and reads it: a JSON
// object, nested no deeper than phasor-wasi reads, giving none of the names readers take twice; when its "labels" is
// an array of outputSize entries, entry o's String() is the name `--emit last` prints beside label o.

import { formatNumber } from "./shortest";
import { TOO_DEEP, scanString, skipSpace, skipValue, startsNumber, syntax, syntaxWhy } from "./json";
import { numberEnd, parseNumber } from "./decimal";
import { Writer, putByte, putBytes, putText } from "./writer";

/** Start of each name in `names` (outputSize + 1 offsets), when the model has labels. */
export let nameOffsets: usize = 0;
export let hasNames = false;

const numberText = memory.data(32);

// What readMetadata found, each refused in host/model/plsm.ts's words (wasi.ts prints them).
export const META_OK = 0;
export const META_NOT_JSON = 1;
export const META_TOO_DEEP = 2;
export const META_NOT_OBJECT = 3;
export const META_TWICE = 4;
/** With META_TWICE: the name given twice, one of META_NAMES. */
export let metaTwice: string = "";

/**
 * Checks the metadata [start, end) as host/model/plsm.ts's reader does, in its order: JSON, nested no deeper than
 * JSON_MAX_NESTING, an object, none of the names a reader takes from it (META_NAMES) given twice at its top
 * level; then reads its labels into `names` (WTF-8, concatenated). `key` is scratch text.
 */
export function readMetadata(start: usize, end: usize, outputSize: i32, names: Writer, key: Writer): i32 {
  hasNames = false;
  // TextDecoder drops a leading byte order mark before JSON.parse sees the text
  if (end - start >= 3 && load<u8>(start) == 0xef && load<u8>(start, 1) == 0xbb && load<u8>(start, 2) == 0xbf) start += 3;
  let p = skipSpace(start, end);
  let labels: usize = 0; // the last "labels" value, when it is an array
  let seen = 0; // a bit for each of META_NAMES met so far
  metaTwice = "";
  const isObject = p < end && load<u8>(p) == 123;
  if (isObject) {
    p = skipSpace(p + 1, end);
    if (p < end && load<u8>(p) == 125) {
      p++;
    } else {
      while (true) {
        if (p >= end || load<u8>(p) != 34) return META_NOT_JSON;
        key.length = 0;
        p = scanString(p, end, key);
        if (p == 0) return META_NOT_JSON;
        p = skipSpace(p, end);
        if (p >= end || load<u8>(p) != 58) return META_NOT_JSON;
        p = skipSpace(p + 1, end);
        const value = p;
        p = skipValue(p, end, 1);
        if (p == 0) return syntaxWhy == TOO_DEEP ? META_TOO_DEEP : META_NOT_JSON;
        const known = metaNameOf(key);
        if (known >= 0) {
          if ((seen & (1 << known)) != 0 && metaTwice.length == 0) metaTwice = META_NAMES[known];
          seen |= 1 << known;
        }
        if (known == META_LABELS) labels = load<u8>(value) == 91 ? value : 0;
        p = skipSpace(p, end);
        if (p >= end) return META_NOT_JSON;
        if (load<u8>(p) == 125) {
          p++;
          break;
        }
        if (load<u8>(p) != 44) return META_NOT_JSON;
        p = skipSpace(p + 1, end);
      }
    }
  } else {
    p = skipValue(p, end, 0);
    if (p == 0) return syntaxWhy == TOO_DEEP ? META_TOO_DEEP : META_NOT_JSON;
  }
  if (skipSpace(p, end) != end) return META_NOT_JSON;
  if (!isObject) return META_NOT_OBJECT;
  if (metaTwice.length != 0) return META_TWICE;
  if (labels != 0) readNames(labels, end, outputSize, names);
  return META_OK;
}

/** The top-level names of the metadata that readers take (host/model/plsm.ts, METADATA_READ): timeUnit and labels
 * here and in the host, sensors in the gateway. */
const META_NAMES = ["timeUnit", "labels", "sensors"];
const META_LABELS = 1;

/** Which of META_NAMES the (decoded) key is, -1 for none. */
function metaNameOf(key: Writer): i32 {
  for (let k = 0; k < META_NAMES.length; k++) {
    const name = META_NAMES[k];
    if (key.length == name.length) {
      let same = true;
      for (let i = 0; i < name.length; i++) same = same && <i32>load<u8>(key.buffer + <usize>i) == name.charCodeAt(i);
      if (same) return k;
    }
  }
  return -1;
}

/** The names of a (valid) labels array at p, when it has outputSize entries. */
function readNames(p: usize, end: usize, outputSize: i32, names: Writer): void {
  names.length = 0;
  nameOffsets = heap.alloc(<usize>(outputSize + 1) << 2);
  let count = 0;
  p = skipSpace(p + 1, end);
  while (load<u8>(p) != 93) {
    if (count < outputSize) store<i32>(nameOffsets + (<usize>count << 2), names.length);
    p = stringOf(p, end, names, false);
    count++;
    p = skipSpace(p, end);
    if (load<u8>(p) == 44) p = skipSpace(p + 1, end);
  }
  if (count != outputSize) return;
  store<i32>(nameOffsets + (<usize>outputSize << 2), names.length);
  hasNames = true;
}

/** String(value) of the JSON value at p into w; returns the position after it. Inside an array (join), null
 * is empty. */
function stringOf(p: usize, end: usize, w: Writer, inArray: bool): usize {
  const c = <u32>load<u8>(p);
  if (c == 34) return scanString(p, end, w);
  if (startsNumber(c)) {
    const v = parseNumber(p, end);
    putBytes(w, numberText, formatNumber(v, numberText));
    return numberEnd;
  }
  if (c == 116) putText(w, "true");
  else if (c == 102) putText(w, "false");
  else if (c == 110) {
    if (!inArray) putText(w, "null");
  } else if (c == 123) {
    putText(w, "[object Object]");
  } else if (c == 91) {
    p = skipSpace(p + 1, end);
    let first = true;
    while (load<u8>(p) != 93) {
      if (!first) putByte(w, 44);
      first = false;
      p = stringOf(p, end, w, true);
      p = skipSpace(p, end);
      if (load<u8>(p) == 44) p = skipSpace(p + 1, end);
    }
    return p + 1;
  } else {
    return syntax("unexpected character", p);
  }
  return skipValue(p, end, 1);
}
