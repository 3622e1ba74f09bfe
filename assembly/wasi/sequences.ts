// Sequence ids (formats.md: a seq is a string or an integer, or absent) and the rule that the events of one seq
// are contiguous: every finished seq is remembered, with the line its last event was on, so that a seq coming
// back is refused as `phasor run` refuses it. A seq is kept as a key: a kind byte, then the f64 of an integer
// id or the WTF-8 text of a string id.

import { Writer, putBytes, putByte, putJsonString, putNumber } from "./writer";

export const SEQ_NONE: i32 = 0;
export const SEQ_NUMBER: i32 = 1;
export const SEQ_STRING: i32 = 2;

/** Builds the key of a seq into `key`. */
export function seqKey(key: Writer, kind: i32, number: f64, text: Writer): void {
  key.length = 0;
  putByte(key, kind);
  if (kind == SEQ_NUMBER) {
    store<f64>(numberBits, number);
    putBytes(key, numberBits, 8);
  } else if (kind == SEQ_STRING) {
    putBytes(key, text.buffer, text.length);
  }
}
const numberBits = memory.data(8);

/** The seq as JSON (what `phasor run` prints for it): null, the integer, or the quoted string. */
export function putSeqJson(w: Writer, key: Writer): void {
  const kind = <i32>load<u8>(key.buffer);
  if (kind == SEQ_NONE) {
    putBytes(w, changetype<usize>(NULL_TEXT), 4);
  } else if (kind == SEQ_NUMBER) {
    putNumber(w, load<f64>(key.buffer + 1));
  } else {
    putJsonString(w, key.buffer + 1, key.length - 1);
  }
}
const NULL_TEXT = memory.data<u8>([110, 117, 108, 108]);

// The finished seqs: open addressing over 24-byte slots {hash u64, key pointer u32, key bytes u32, line i64};
// a slot is empty while its key pointer is 0. At most half full.
const SLOT_BYTES: i32 = 24;
let slots: usize = 0;
let slotCount: i32 = 0;
let filled: i32 = 0;

/** FNV-1a over the key bytes. */
function hashOf(p: usize, n: i32): u64 {
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < n; i++) h = (h ^ <u64>load<u8>(p + <usize>i)) * 0x100000001b3;
  return h;
}

function slotFor(h: u64, p: usize, n: i32): usize {
  const mask = <u64>(slotCount - 1);
  let i = h & mask;
  while (true) {
    const slot = slots + <usize>i * SLOT_BYTES;
    const at = <usize>load<u32>(slot, 8);
    if (at == 0) return slot;
    if (load<u64>(slot) == h && <i32>load<u32>(slot, 12) == n && memory.compare(at, p, <usize>n) == 0) return slot;
    i = (i + 1) & mask;
  }
}

/** The line of the last event of a finished seq with this key, or -1 when it has not finished. */
export function finishedAt(key: Writer): i64 {
  if (slotCount == 0) return -1;
  const slot = slotFor(hashOf(key.buffer, key.length), key.buffer, key.length);
  return load<u32>(slot, 8) == 0 ? -1 : load<i64>(slot, 16);
}

/** Remembers a seq as finished, its last event on `line`. */
export function finish(key: Writer, line: i64): void {
  if (2 * (filled + 1) > slotCount) grow();
  const h = hashOf(key.buffer, key.length);
  const slot = slotFor(h, key.buffer, key.length);
  const copy = heap.alloc(<usize>key.length);
  memory.copy(copy, key.buffer, <usize>key.length);
  store<u64>(slot, h);
  store<u32>(slot, <u32>copy, 8);
  store<u32>(slot, <u32>key.length, 12);
  store<i64>(slot, line, 16);
  filled++;
}

function grow(): void {
  const oldSlots = slots;
  const oldCount = slotCount;
  slotCount = oldCount == 0 ? 64 : oldCount << 1;
  slots = heap.alloc(<usize>slotCount * SLOT_BYTES);
  memory.fill(slots, 0, <usize>slotCount * SLOT_BYTES);
  for (let i = 0; i < oldCount; i++) {
    const old = oldSlots + <usize>i * SLOT_BYTES;
    const at = <usize>load<u32>(old, 8);
    if (at == 0) continue;
    const slot = slotFor(load<u64>(old), at, <i32>load<u32>(old, 12));
    memory.copy(slot, old, <usize>SLOT_BYTES);
  }
  if (oldSlots != 0) heap.free(oldSlots);
}
