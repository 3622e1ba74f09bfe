// The microcontroller profile (docs/embedding.md): the fixed engine alone, one stream, no imports, and every
// byte it will ever use in one static arena, so linear memory is fixed at build time and never grows. Built with
// `--use PHASOR_MCU=1 --runtime stub` (asconfig.mcu.json): no float engine, no error texts, no allocator.
//
// The host writes a .plsm image at modelBuffer() and calls init(length); the arena then holds, after the image
// (which is the weight memory), the model's records, the timing derived from it, the per-event scratch, the
// stream's state and the input and output buffers, and then the row pairs of U (fixed/sums.ts) of each layer that
// allows them and has room, laid out once by init (the TFLite Micro arena plan).

import { HEADER_LAYER_COUNT, MAX_LAYERS } from "./contract/plsm";
import { E_CAPACITY, E_INPUT, E_MODEL, E_STATE } from "./errors";
import { fillTanhTable } from "./fixed/activation";
import { MCU_PAIRED, packRows, pairedBytes } from "./fixed/sums";
import { FIXED_TIMING_BYTES, Layer, Model, PAGE, deriveTiming, layerAt, parseModel } from "./model";
import { align16, align32 } from "./padding";
import { POLICY_REJECT, pushEvent, readOutput, streamReset } from "./stream";
import { learnedOutputInto, learningLayout, learningStart, learningStop } from "./mcu-learning";

/** Bytes for the image and everything derived from it: the build fills two 64 KiB pages with it and the
 * engine's static tables (asconfig.mcu.json fixes the memory at 2 pages). `--use PHASOR_MCU_ARENA=n` resizes it. */
const ARENA_BYTES: i32 = isDefined(PHASOR_MCU_ARENA) ? PHASOR_MCU_ARENA : 122880;
// compactRows packs one-byte weights
if (PAGE && !isDefined(PHASOR_INT8)) ERROR("the one-page build (PHASOR_MCU_PAGE) runs int8 weights: add PHASOR_INT8=1");
const arena = memory.data(ARENA_BYTES, 16);

let modelAt: usize = 0;
let streamAt: usize = 0;
let inputAt: usize = 0;
let outputAt: usize = 0;
/** bytes the last init needed, image included (arenaNeeded); after a successful one, the bytes it uses (arenaUsed) */
let needed: usize = 0;

/** Where the host writes the .plsm image, before init. */
export function modelBuffer(): usize {
  return arena;
}

/** Bytes of the arena: the image, plus what init lays out after it, must fit. */
export function arenaBytes(): i32 {
  return ARENA_BYTES;
}

/** Bytes of the arena that init laid out (image and row pairs included); 0 before a successful init. */
export function arenaUsed(): i32 {
  return modelAt ? <i32>needed : 0;
}

/**
 * Bytes of the arena the last init needed, image included: after 0 the bytes it uses (arenaUsed), after
 * E_CAPACITY the bytes it would have used without row pairs, the least that runs the model, so a host can say how
 * much is missing. 0 when that is not known: before
 * init, after E_MODEL, and when the image and the model's records alone overflow the arena (the records must be
 * laid out before the rest of the model can be read).
 */
export function arenaNeeded(): i32 {
  return <i32>needed;
}

/**
 * Checks the .plsm image of `length` bytes at modelBuffer() and lays out the arena for it: 0, E_MODEL (-1)
 * when the image is rejected (not a fixed-point .plsm, or corrupt), E_CAPACITY (-4) when it does not fit
 * (arenaNeeded() then says how much it would take).
 * Afterwards the stream is new (h = c = 0) and inputBuffer() has room for one event's inputs.
 */
export function init(length: i32): i32 {
  modelAt = 0;
  needed = 0;
  if (isDefined(PHASOR_LEARN)) learningStop();
  if (<u32>length > <u32>ARENA_BYTES) return E_CAPACITY;
  const layerCount = load<i32>(arena + HEADER_LAYER_COUNT);
  if (layerCount < 1 || layerCount > MAX_LAYERS) return E_MODEL;
  const end = arena + <usize>ARENA_BYTES;
  let at = align16(arena + <usize>length);
  let m = changetype<Model>(at);
  at = align16(at + offsetof<Model>());
  m.layers = at;
  at = align16(at + <usize>layerCount * offsetof<Layer>());
  if (at > end) return E_CAPACITY;
  if (parseModel(m, arena, length) != 0) return E_MODEL;
  // the one-page build lays out the rest after the image as compactRows leaves it, the records moved ahead of it
  if (PAGE) at -= changetype<usize>(m) - align16(arena + <usize>length - compactedBytes(m));
  m.timing = at;
  // the scratch 32-aligned, as the gate sums inside it are (fixed/sums.ts); no timing in the one-page build
  at = align32(at + (PAGE ? 0 : <usize>m.totalUnits * FIXED_TIMING_BYTES));
  m.scratch = at;
  at = align16(at + <usize>m.scratchBytes);
  const st = at;
  at = align16(at + <usize>m.streamBytes);
  const x = at;
  at = align16(at + (<usize>m.inputSize << 2));
  const y = at;
  at += <usize>m.outputSize << 3;
  // the learning module (assembly/mcu-learn.ts) keeps its readout after all this
  if (isDefined(PHASOR_LEARN)) at = learningLayout(m, at);
  if (at > end) {
    needed = at - arena;
    return E_CAPACITY;
  }
  if (PAGE) {
    m = compactRows(m, arena + <usize>length);
    // taken apart: an init without the image written again finds no .plsm there (E_MODEL)
    store<u32>(arena, 0);
  }
  // U's 32-column chunks in row pairs (fixed/sums.ts, packRows) for each layer whose rows allow them and whose
  // pairs fit in what is left, in layer order; the others sum U h row by row, with the same bits
  for (let n = 0; MCU_PAIRED && n < m.layerCount; n++) {
    const L = layerAt(m, n);
    const H = L.hiddenSize;
    const columns = H & ~31;
    const bytes = pairedBytes(H, columns);
    L.uPairs = 0;
    if (L.uWithinRowLimit && columns != 0 && bytes <= end - at) {
      L.uPairs = packRows(L, L.U, H, L.hiddenPad, columns, at, false);
      at += bytes;
    }
  }
  needed = at - arena;
  deriveTiming(m, m.timing);
  fillTanhTable();
  streamReset(m, st);
  if (isDefined(PHASOR_LEARN)) learningStart(m, st);
  modelAt = changetype<usize>(m);
  streamAt = st;
  inputAt = x;
  outputAt = y;
  return 0;
}

/** Where the host writes the next event's inputs: inputSize f32. */
export function inputBuffer(): usize {
  return inputAt;
}

/**
 * One event at time t (f64, the model's time unit; non-decreasing within a sequence) with the inputs at
 * inputBuffer(): 0, E_INPUT (-2) when t or an input is not finite, time goes backwards or the sequence has run
 * past 2^62 ticks (the state is then untouched), E_STATE (-3) before a successful init.
 */
export function push(t: f64): i32 {
  if (!modelAt) return E_STATE;
  return pushEvent(changetype<Model>(modelAt), streamAt, t, inputAt, POLICY_REJECT) == 0 ? 0 : E_INPUT;
}

/** The readout y = V h + d of the current state: the address of outputSize f64 (0 before init). */
export function output(): usize {
  if (!modelAt) return 0;
  if (isDefined(PHASOR_LEARN) && learnedOutputInto(outputAt)) return outputAt;
  readOutput(changetype<Model>(modelAt), streamAt, outputAt);
  return outputAt;
}

/** A new sequence: h = c = 0 and no time origin. */
export function reset(): void {
  if (modelAt) streamReset(changetype<Model>(modelAt), streamAt);
}

/** Bytes that compactRows frees in all: rowsFreed of each one-input layer. */
function compactedBytes(m: Model): usize {
  let freed: usize = 0;
  for (let n = 0; n < m.layerCount; n++) {
    const L = layerAt(m, n);
    if (L.inputSize == 1) freed += rowsFreed(L);
  }
  return freed;
}

/** Bytes compactRows frees of a one-input layer's W: 7 of every 8 weights of its 4 H rows, all zero (parseModel
 * checked them), rounded down to 16 so that every region after them stays aligned. */
@inline function rowsFreed(L: Layer): usize {
  return (<usize>L.hiddenSize * 28) & ~15;
}

/**
 * The one-page build's image taken apart in place (docs/embedding.md, "One 64 KiB page"): each one-input layer's W
 * rows (int8, one weight and 7 zeros) packed to their weight, 4 a unit (fixed/sums.ts reads them so), the rest of
 * the image moved down over the bytes freed (compactedBytes) and every region after them with it; then the model's
 * records (`m`, its layers after it) moved down to where the image now ends. Returns the moved model.
 */
function compactRows(m: Model, imageEnd: usize): Model {
  const records = changetype<usize>(m);
  const recordBytes = m.layers + <usize>m.layerCount * offsetof<Layer>() - records;
  for (let n = 0; n < m.layerCount; n++) {
    const L = layerAt(m, n);
    if (L.inputSize != 1) continue;
    const rows = <usize>L.hiddenSize << 2;
    for (let r: usize = 1; r < rows; r++) store<i8>(L.W + r, load<i8>(L.W + (r << 3)));
    const from = L.W + (rows << 3);
    const freed = rowsFreed(L);
    memory.copy(from - freed, from, imageEnd - from);
    imageEnd -= freed;
    for (let k = 0; k < m.layerCount; k++) {
      const K = changetype<usize>(layerAt(m, k));
      moveDown(K + offsetof<Layer>("W"), from, freed);
      moveDown(K + offsetof<Layer>("U"), from, freed);
      moveDown(K + offsetof<Layer>("units"), from, freed);
      moveDown(K + offsetof<Layer>("time"), from, freed);
    }
    moveDown(records + offsetof<Model>("V"), from, freed);
    moveDown(records + offsetof<Model>("readoutRows"), from, freed);
  }
  const moved = align16(imageEnd);
  memory.copy(moved, records, recordBytes);
  const M = changetype<Model>(moved);
  M.layers -= records - moved;
  return M;
}

/** The address stored at `at` moved down by `by` when it is at or after `from`. */
@inline function moveDown(at: usize, from: usize, by: usize): void {
  const p = load<usize>(at);
  if (p >= from) store<usize>(at, p - by);
}
