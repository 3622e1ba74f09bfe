// Which units an event has to visit. An open unit sits in the active list; a closed unit sits in a timing
// wheel, filed under the time its gate next opens (each unit's next opening is known in advance). Per event
// only the active units and the units whose opening has come are looked at, so closed units cost nothing
// (plstm.md section 1: with alpha = 0 skipping them is exact).
//
// The wheel: WHEEL_BUCKETS lists, bucket b holding the units whose wake key k has (k >> shift) % 64 == b; a
// bitmap of non-empty buckets; the bucket of the last event. An event drains the buckets from the last event's
// to its own: units due move to the active list, units filed there for a later lap go back. Insertion and
// removal are O(1); shift is chosen per layer (model.ts) so one lap spans the longest period.
// Keys are i64 times from the stream's first event: ticks (fixed engine) or 2^-20 time units (float engine).

import { FULL_BUILD, Layer, WHEEL_BUCKETS } from "./model";

@inline function fileUnder(L: Layer, st: usize, bucket: i32, j: i32): void {
  linkAt(st + <usize>L.headsOff, st + <usize>L.nextOff + (<usize>j << 2), bucket, j);
  const wheel = st + <usize>L.wheelOff;
  store<u64>(wheel, load<u64>(wheel, 8) | (<u64>1 << bucket), 8);
}

/** Puts unit j, whose next link is at `nextAt`, first in a bucket's list (heads and next links as in a state block);
 * the caller marks the bucket in the bitmap. */
@inline export function linkAt(heads: usize, nextAt: usize, bucket: i32, j: i32): void {
  store<i32>(nextAt, load<i32>(heads + (<usize>bucket << 2)));
  store<i32>(heads + (<usize>bucket << 2), j);
}

/** Files closed unit j under its wake key (which must be later than the current event's key). */
export function wheelInsert(L: Layer, st: usize, j: i32, key: i64): void {
  store<i64>(st + <usize>L.keyOff + (<usize>j << 3), key);
  fileUnder(L, st, <i32>(key >> L.bucketShift) & (WHEEL_BUCKETS - 1), j);
}

/**
 * The canonical schedule of a stream whose last event had wake key `lastKey`: every unit in the active list in index
 * order, every bucket empty, bitmap 0, the last drained bucket lastKey's, wake keys and list links 0. It is sound for
 * the wheel (the next event gates every unit exactly, as the first event does; wheelIsSound accepts it) and depends
 * on nothing the builds do differently, so snapshots take it (stream.ts, canonicalSchedules), and a new stream (before its first event every unit
 * is a candidate): the SIMD build's dense
 * time gate leaves the schedule of its last wheel event stale (fixed/step.ts), and both builds' snapshots of the same
 * stream are the same bytes.
 */
export function scheduleAllActive(L: Layer, st: usize, lastKey: i64): void {
  const H = L.hiddenSize;
  const wheel = st + <usize>L.wheelOff;
  // the microcontroller builds take no snapshots, and in a new stream's block these are zeros already
  if (FULL_BUILD) {
    memory.fill(st + <usize>L.keyOff, 0, <usize>H << 3);
    memory.fill(st + <usize>L.nextOff, 0, <usize>H << 2);
    store<i64>(wheel, lastKey >> L.bucketShift);
    store<u64>(wheel, 0, 8);
  }
  // every bucket empty: -1, all of its bytes 0xff
  memory.fill(st + <usize>L.headsOff, 0xff, WHEEL_BUCKETS * 4);
  const active = st + <usize>L.activeOff;
  for (let j = 0; j < H; j++) store<i32>(active + (<usize>j << 2), j);
  store<i32>(wheel, H, 16);
}

@inline export function activeCount(L: Layer, st: usize): i32 {
  return load<i32>(st + <usize>L.wheelOff, 16);
}

@inline export function setActiveCount(L: Layer, st: usize, n: i32): void {
  store<i32>(st + <usize>L.wheelOff, n, 16);
}

/** Moves every unit whose wake key is <= now into the active list; returns the new active count. */
export function wheelDrain(L: Layer, st: usize, now: i64): i32 {
  const wheel = st + <usize>L.wheelOff;
  const heads = st + <usize>L.headsOff;
  const keys = st + <usize>L.keyOff;
  const next = st + <usize>L.nextOff;
  const active = st + <usize>L.activeOff;
  let count = load<i32>(wheel, 16);
  const current = now >> L.bucketShift;
  const from = load<i64>(wheel);
  store<i64>(wheel, current);
  if (load<u64>(wheel, 8) == 0) return count;
  for (let b = firstBucket(from, current); b <= current; b++) {
    const bucket = <i32>b & (WHEEL_BUCKETS - 1);
    const bit = <u64>1 << bucket;
    if ((load<u64>(wheel, 8) & bit) == 0) continue;
    let j = load<i32>(heads + (<usize>bucket << 2));
    store<i32>(heads + (<usize>bucket << 2), -1);
    store<u64>(wheel, load<u64>(wheel, 8) & ~bit, 8);
    while (j >= 0) {
      const following = load<i32>(next + (<usize>j << 2));
      if (load<i64>(keys + (<usize>j << 3)) <= now) store<i32>(active + (<usize>(count++) << 2), j);
      else fileUnder(L, st, bucket, j); // filed for a later lap
      j = following;
    }
  }
  store<i32>(wheel, count, 16);
  return count;
}

/** The first bucket (a key >> bucketShift) that an event in bucket `current` drains when the last event's was `last`:
 * that one itself (units filed there for after it stay there), but none before `current` - 63. */
@inline export function firstBucket(last: i64, current: i64): i64 {
  let from = last;
  if (from > current) from = current; // only a damaged state could say so; never scan backwards
  // A gap of a whole lap or more visits every bucket once.
  if (current - from >= <i64>(WHEEL_BUCKETS - 1)) from = current - <i64>(WHEEL_BUCKETS - 1);
  return from;
}

/**
 * True when the schedule in a (restored) state block is well formed: every unit exactly once, either in the
 * active list or in the bucket its key says, with the bitmap matching; the last drained bucket the bucket of
 * lastKey, the key of the stream's last event (0 before the first); and no filed key before firstKey (a unit
 * filed before the last event would have been woken by it). `seen` has room for H bytes.
 */
export function wheelIsSound(L: Layer, st: usize, seen: usize, lastKey: i64, firstKey: i64): bool {
  const H = L.hiddenSize;
  const wheel = st + <usize>L.wheelOff;
  const count = load<i32>(wheel, 16);
  if (count < 0 || count > H) return false;
  if (load<i64>(wheel) != lastKey >> L.bucketShift) return false;
  memory.fill(seen, 0, <usize>H);
  let filed = 0;
  for (let a = 0; a < count; a++) {
    const j = load<i32>(st + <usize>L.activeOff + (<usize>a << 2));
    if (j < 0 || j >= H || load<u8>(seen + <usize>j)) return false;
    store<u8>(seen + <usize>j, 1);
  }
  const bitmap = load<u64>(wheel, 8);
  for (let b = 0; b < WHEEL_BUCKETS; b++) {
    let j = load<i32>(st + <usize>L.headsOff + (<usize>b << 2));
    if ((j >= 0) != ((bitmap & (<u64>1 << b)) != 0)) return false;
    while (j >= 0) {
      if (j >= H || load<u8>(seen + <usize>j)) return false;
      const key = load<i64>(st + <usize>L.keyOff + (<usize>j << 3));
      if (key < firstKey || (<i32>(key >> L.bucketShift) & (WHEEL_BUCKETS - 1)) != b) return false;
      store<u8>(seen + <usize>j, 1);
      filed++;
      j = load<i32>(st + <usize>L.nextOff + (<usize>j << 2));
    }
  }
  return filed + count == H;
}
