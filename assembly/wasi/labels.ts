// The class names in a .plsm's metadata (docs/plsm.md, "Metadata"), read as host/model/plsm.ts reads them: the
// metadata must be JSON; when it is an object whose "labels" is an array of outputSize entries, entry o's
// String() is the name `--emit last` prints beside label o.

import { formatNumber } from "./shortest";
import { scanString, skipSpace, skipValue, startsNumber, syntax } from "./json";
import { numberEnd, parseNumber } from "./decimal";
import { Writer, putByte, putBytes, putText } from "./writer";

/** Start of each name in `names` (outputSize + 1 offsets), when the model has labels. */
export let nameOffsets: usize = 0;
export let hasNames = false;

const numberText = memory.data(32);

/**
 * Checks the metadata [start, end) is JSON and reads its labels into `names` (WTF-8, concatenated).
 * False when it is not JSON. `key` is scratch text.
 */
export function readLabels(start: usize, end: usize, outputSize: i32, names: Writer, key: Writer): bool {
  hasNames = false;
  // TextDecoder drops a leading byte order mark before JSON.parse sees the text
  if (end - start >= 3 && load<u8>(start) == 0xef && load<u8>(start, 1) == 0xbb && load<u8>(start, 2) == 0xbf) start += 3;
  let p = skipSpace(start, end);
  let labels: usize = 0; // the last "labels" value, when it is an array
  if (p < end && load<u8>(p) == 123) {
    p = skipSpace(p + 1, end);
    if (p < end && load<u8>(p) == 125) {
      p++;
    } else {
      while (true) {
        if (p >= end || load<u8>(p) != 34) return false;
        key.length = 0;
        p = scanString(p, end, key);
        if (p == 0) return false;
        p = skipSpace(p, end);
        if (p >= end || load<u8>(p) != 58) return false;
        p = skipSpace(p + 1, end);
        const value = p;
        p = skipValue(p, end, 1);
        if (p == 0) return false;
        if (key.length == 6 && memory.compare(key.buffer, changetype<usize>(LABELS), 6) == 0) labels = load<u8>(value) == 91 ? value : 0;
        p = skipSpace(p, end);
        if (p >= end) return false;
        if (load<u8>(p) == 125) {
          p++;
          break;
        }
        if (load<u8>(p) != 44) return false;
        p = skipSpace(p + 1, end);
      }
    }
  } else {
    p = skipValue(p, end, 0);
    if (p == 0) return false;
  }
  if (skipSpace(p, end) != end) return false;
  if (labels != 0) readNames(labels, end, outputSize, names);
  return true;
}
const LABELS = memory.data<u8>([108, 97, 98, 101, 108, 115]);

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
