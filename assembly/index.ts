// The module's exports: models, streams and events, for the host glue (host/engine/wasm.ts). Pointers are offsets in
// this module's memory; every call that can fail returns a status (0 or a negative code) with the reason in the
// error buffer (errorPtr, errorLen).

import {
  INFO_INPUT_FRAC, INFO_INPUT_SIZE, INFO_KIND, INFO_LAYER_COUNT, INFO_MODEL_BYTES, INFO_OUTPUT_SIZE, INFO_READOUT_MODE, INFO_SCRATCH_BYTES,
  INFO_STREAM_BYTES, INFO_STREAM_CACHE_BYTES, INFO_TOTAL_UNITS,
} from "./contract/calls";
import { HEADER_LAYER_COUNT, MAX_LAYERS } from "./contract/plsm";
import { E_MODEL, E_STATE, clearError, errInt, errText, fail } from "./errors";
import { Layer, Model, deriveTiming, isFixed, layerAt, parseModel, timingBytes } from "./model";
import { canonicalSchedules, checkPush, pushEvent, pushEvents, readOutput, readState, restoreStream, streamAllocBytes, streamReset } from "./stream";
import { exactPhase as phaseExact, phaseStep as step96, phaseStepLow } from "./phase";
import { S_EVENTS, S_SATURATED, S_UPDATES } from "./model";
import { DENSE_GATE, denseTimingBytes, gateIsDense, layOutDenseBases, storeDenseTiming, storeRowShifts } from "./fixed/step";
import { PAIRED, packRows, pairedBytes, pairsU, pairsW } from "./fixed/sums";
import { learnStep, learnedOutput, readoutBytes, readoutCheck, readoutFromModel, readoutSeal } from "./fixed/readout-learning";

export { errorPtr, errorLen, refusalIndex, refusalReason, refusalTime } from "./errors";

export function alloc(size: usize): usize {
  return heap.alloc(size);
}

export function free(ptr: usize): void {
  heap.free(ptr);
}

/**
 * Takes ownership of the .plsm image at [bytes, bytes + length) (allocated with alloc) and returns a model
 * handle, or 0 when the image is rejected (the caller still owns the bytes then).
 */
export function modelCreate(bytes: usize, length: i32): usize {
  clearError();
  const layerCount = length >= HEADER_LAYER_COUNT + 4 ? load<i32>(bytes + HEADER_LAYER_COUNT) : 0;
  if (layerCount < 1 || layerCount > MAX_LAYERS) {
    fail(E_MODEL, length < 68 ? "plsm: file too short for a header and checksum" : "plsm: layer count must be 1..64");
    return 0;
  }
  const m = changetype<Model>(heap.alloc(offsetof<Model>()));
  memory.fill(changetype<usize>(m), 0, offsetof<Model>());
  m.layers = heap.alloc(<usize>layerCount * offsetof<Layer>());
  if (parseModel(m, bytes, length) != 0) {
    heap.free(m.layers);
    heap.free(changetype<usize>(m));
    return 0;
  }
  m.bytes = bytes;
  m.byteLength = length;
  m.scratch = heap.alloc(<usize>m.scratchBytes);
  m.timing = heap.alloc(<usize>m.totalUnits * timingBytes(m.kind));
  deriveTiming(m, m.timing);
  if (isFixed(m.kind)) for (let n = 0; n < m.layerCount; n++) storeRowShifts(layerAt(m, n));
  if (DENSE_GATE && isFixed(m.kind)) {
    for (let n = 0; n < m.layerCount; n++) storeDenseTiming(layerAt(m, n));
    layOutDenseBases(m);
  }
  if (PAIRED && isFixed(m.kind)) {
    for (let n = 0; n < m.layerCount; n++) {
      const L = layerAt(m, n);
      // U in lane order where its rows are bounded only lane-chunk by lane-chunk (fixed/sums.ts, lanePairSums)
      L.uPairs = packRows(L, L.U, L.hiddenSize, L.hiddenPad, L.hiddenPad, heap.alloc(pairedBytes(L.hiddenSize, L.hiddenPad)), !pairsU(L));
      L.wPairs = pairsW(L) ? packRows(L, L.W, L.hiddenSize, L.inputPad, L.inputPad, heap.alloc(pairedBytes(L.hiddenSize, L.inputPad)), false) : 0;
    }
  }
  return changetype<usize>(m);
}

/** Bytes of what the model derives from its weights and timing at load: its copies of U and W in row pairs
 * (packRows) and its dense timing (fixed/step.ts, storeDenseTiming), where the build has them. */
function derivedModelBytes(m: Model): usize {
  let bytes: usize = 0;
  if (PAIRED && isFixed(m.kind)) {
    for (let n = 0; n < m.layerCount; n++) {
      const L = layerAt(m, n);
      bytes += pairedBytes(L.hiddenSize, L.hiddenPad);
      if (pairsW(L)) bytes += pairedBytes(L.hiddenSize, L.inputPad);
    }
  }
  if (DENSE_GATE && isFixed(m.kind)) for (let n = 0; n < m.layerCount; n++) bytes += denseTimingBytes(layerAt(m, n).hiddenSize);
  return bytes;
}

export function modelFree(m: Model): void {
  if (PAIRED && isFixed(m.kind)) {
    for (let n = 0; n < m.layerCount; n++) {
      const L = layerAt(m, n);
      heap.free(L.uPairs);
      if (pairsW(L)) heap.free(L.wPairs);
    }
  }
  if (DENSE_GATE && isFixed(m.kind)) for (let n = 0; n < m.layerCount; n++) heap.free(layerAt(m, n).dense);
  heap.free(m.scratch);
  heap.free(m.timing);
  heap.free(m.layers);
  heap.free(m.bytes);
  heap.free(changetype<usize>(m));
}

export function modelInfo(m: Model, what: i32): i32 {
  switch (what) {
    case INFO_KIND: return m.kind;
    case INFO_INPUT_SIZE: return m.inputSize;
    case INFO_OUTPUT_SIZE: return m.outputSize;
    case INFO_LAYER_COUNT: return m.layerCount;
    case INFO_STREAM_BYTES: return m.streamBytes;
    case INFO_SCRATCH_BYTES: return m.scratchBytes;
    case INFO_MODEL_BYTES: return m.byteLength + <i32>derivedModelBytes(m);
    case INFO_READOUT_MODE: return m.readoutMode;
    case INFO_TOTAL_UNITS: return m.totalUnits;
    case INFO_INPUT_FRAC: return m.inputFrac;
    case INFO_STREAM_CACHE_BYTES: return m.streamCacheBytes;
  }
  return -1;
}

export function layerHidden(m: Model, n: i32): i32 {
  return n >= 0 && n < m.layerCount ? layerAt(m, n).hiddenSize : -1;
}

export function streamCreate(m: Model): usize {
  const st = heap.alloc(streamAllocBytes(m));
  streamReset(m, st);
  return st;
}

export function streamFree(st: usize): void {
  heap.free(st);
}

export function streamClear(m: Model, st: usize): void {
  streamReset(m, st);
}

export function push(m: Model, st: usize, t: f64, x: usize, policy: i32): i32 {
  return pushEvent(m, st, t, x, policy);
}

export function check(m: Model, st: usize, t: f64, x: usize, policy: i32): i32 {
  return checkPush(m, st, t, x, policy);
}

export function pushBatch(m: Model, st: usize, n: i32, t: usize, x: usize, y: usize, h: usize, policy: i32): i32 {
  return pushEvents(m, st, n, t, x, y, h, policy, 0);
}

export function output(m: Model, st: usize, out: usize): void {
  readOutput(m, st, out);
}

export function hidden(m: Model, st: usize, layer: i32, out: usize): i32 {
  if (layer < 0 || layer >= m.layerCount) return fail(E_STATE, "no such layer");
  readState(m, st, layer, 0, out);
  return 0;
}

export function cell(m: Model, st: usize, layer: i32, out: usize): i32 {
  if (layer < 0 || layer >= m.layerCount) return fail(E_STATE, "no such layer");
  readState(m, st, layer, 1, out);
  return 0;
}

// A stream's adapted readout (fixed models; docs/on-device-learning.md): its own block, made from the model's
// readout, passed with the stream to the calls below. The model's image is never written.

/** A new adapted readout of model m, equal to the model's own (readoutBytes(m) bytes, freed with readoutFree); 0
 * for a float model, which has no integer readout to adapt. */
export function readoutCreate(m: Model): usize {
  if (!isFixed(m.kind)) return 0;
  const r = heap.alloc(readoutBytes(m));
  readoutFromModel(m, r);
  return r;
}

export function readoutFree(r: usize): void {
  heap.free(r);
}

/** Back to the model's own readout. */
export function readoutReset(m: Model, r: usize): void {
  readoutFromModel(m, r);
}

export function readoutSize(m: Model): usize {
  return readoutBytes(m);
}

/** Copies r's bytes (readoutSize(m), checksum included) to dst. */
export function readoutSave(m: Model, r: usize, dst: usize): void {
  const n = readoutBytes(m);
  readoutSeal(r, n);
  memory.copy(dst, r, n);
}

/** Takes the `length` bytes at src (a readoutSave of this model) as r: 0, or E_STATE with the reason and r unchanged. */
export function readoutLoad(m: Model, r: usize, src: usize, length: i32): i32 {
  clearError();
  const n = readoutBytes(m);
  if (<usize>length != n) {
    fail(E_STATE, "");
    errInt(length);
    errText(" bytes, an adapted readout of this model has ");
    errInt(<i64>n);
    return E_STATE;
  }
  const status = readoutCheck(m, src, n);
  if (status == 0) memory.copy(r, src, n);
  return status;
}

/** One learning step on r from the stream's state: a class (targets 0) or the O f64 targets at `targets`; c
 * infinite for no cap. 0 (step eta), 1 (step capped), E_INPUT with the reason (nothing changed). */
export function learn(m: Model, st: usize, r: usize, label: i32, targets: usize, eta: f64, c: f64): i32 {
  clearError();
  return learnStep(m, st, r, label, targets, eta, c);
}

/** output() from the adapted readout r. */
export function outputLearned(m: Model, st: usize, r: usize, out: usize): void {
  learnedOutput(m, st, r, out);
}

/** pushBatch() with y from the adapted readout r. */
export function pushBatchLearned(m: Model, st: usize, r: usize, n: i32, t: usize, x: usize, y: usize, h: usize, policy: i32): i32 {
  return pushEvents(m, st, n, t, x, y, h, policy, r);
}

/** Puts the stream's schedule in the canonical form every snapshot holds (stream.ts, canonicalSchedules); the host
 * calls it before it copies the stream block out, which then needs no memory of the module's. */
export function snapshotSchedule(m: Model, st: usize): void {
  canonicalSchedules(m, st);
}

/** 1 when the stream's next event takes the dense time gate in layer n (fixed/step.ts, gateIsDense), else 0:
 * exported so tests can see both gates run on one stream. */
export function denseGateNext(m: Model, st: usize, n: i32): i32 {
  return DENSE_GATE && isFixed(m.kind) && gateIsDense(layerAt(m, n), st) ? 1 : 0;
}

export function restore(m: Model, st: usize, src: usize, length: i32): i32 {
  return restoreStream(m, st, src, length);
}

export function streamEvents(st: usize): f64 {
  return <f64>load<i64>(st + S_EVENTS);
}

export function streamUpdates(st: usize): f64 {
  return <f64>load<i64>(st + S_UPDATES);
}

/** Layer-0 input values saturated to the fixed engine's input range since the stream started (model.ts, S_SATURATED). */
export function streamSaturated(st: usize): f64 {
  return <f64>load<i64>(st + S_SATURATED);
}

/** The seeding phase function, exported so tests can hold it against the host's exact BigInt phase. */
export function exactPhase(t: f64, s: f64, tau: f64): f64 {
  return phaseExact(t, s, tau);
}

/** The high 64 bits of a unit's Q0.96 phase step (phase.ts), exported so tests can hold it against the host's
 * BigInt step (host/model/plsm.ts); phaseStepLowBits() gives the low 32 bits of the last one. */
export function phaseStep(tau: f64, ticksLog2: i32): u64 {
  return step96(tau, ticksLog2);
}

export function phaseStepLowBits(): u32 {
  return phaseStepLow;
}
