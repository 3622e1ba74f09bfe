// The WASI command's fine-tuning of the readout (docs/wasi.md, "Learning"; docs/on-device-learning.md): one
// adapted readout for the run, stepped from the events' labels by the code the library's fixed engine runs
// (fixed/readout-learning.ts), so that outputs and the readout's bytes are the library's bits. A label is the
// library's target: a class on a readout of two or more outputs, the target value on a readout of one.

import { errorLen, errorPtr } from "../errors";
import { learnStep, learnedOutput, readoutBytes, readoutCheck, readoutFromModel, readoutSeal } from "../fixed/readout-learning";
import { Model } from "../model";
import { readOutput } from "../stream";
import { Writer, putBytes, putInt, putNumber, putText } from "./writer";

/** The cap's c when --learn-c is not given: the library's (host/engine/readout-learning.ts, DEFAULT_C). */
export const DEFAULT_C: f64 = 0.9;
/** The ranges the library's learningRate accepts, without its c = Infinity (no cap), which no device may take. */
export const ETA_MIN: f64 = 5.960464477539063e-8; // 2^-24
export const ETA_MAX: f64 = 1024;
export const C_MIN: f64 = 0.0000152587890625; // 2^-16
/** The largest target value of squared error (fixed/readout-learning.ts, TARGET_MAX). */
const TARGET_MAX: f64 = 8388608; // 2^23

/** the adapted readout (readoutBytes of the model), 0 when the run does not learn */
let readout: usize = 0;
/** outputs come from the adapted readout once a step or --readout-in made it the one in use, as in the library */
let adapted = false;
/** the O f64 targets of a readout of one output */
let targets: usize = 0;

/** Sets up the adapted readout as the model's own (its flashed readout). */
export function learningStart(m: Model): void {
  readout = heap.alloc(readoutBytes(m));
  readoutFromModel(m, readout);
  targets = heap.alloc(<usize>m.outputSize << 3);
}

/** y of the stream's current state from the readout in use, into out[0..O). */
export function outputInUse(m: Model, st: usize, out: usize): void {
  if (adapted) learnedOutput(m, st, readout, out);
  else readOutput(m, st, out);
}

/**
 * Whether `label` is a target the readout can learn (the library's learningTarget): a class 0 to O - 1 on a
 * readout of two or more outputs, a value within +-2^23 on a readout of one. The reason goes to `why` when not.
 */
export function labelFits(m: Model, label: f64, why: Writer): bool {
  const O = m.outputSize;
  if (O >= 2 ? label >= 0 && label < <f64>O && Math.floor(label) == label : Math.abs(label) <= TARGET_MAX) return true;
  putText(why, "label ");
  putNumber(why, label);
  if (O >= 2) {
    putText(why, " is not a class of this model (0 to ");
    putInt(why, O - 1);
    putText(why, ")");
  } else {
    putText(why, " is beyond +-2^23, the range of a target value");
  }
  return false;
}

/**
 * One step of the adapted readout towards a label that labelFits, from the stream's state, with step eta capped at
 * c 2 / lambda. False with the engine's reason in `why` (a label or rate out of range: nothing changed).
 */
export function learnLabel(m: Model, st: usize, label: f64, eta: f64, c: f64, why: Writer): bool {
  let status: i32;
  if (m.outputSize >= 2) {
    status = learnStep(m, st, readout, <i32>label, 0, eta, c);
  } else {
    store<f64>(targets, label);
    status = learnStep(m, st, readout, 0, targets, eta, c);
  }
  if (status < 0) {
    putText(why, "learning: ");
    putBytes(why, errorPtr(), errorLen());
    return false;
  }
  adapted = true;
  return true;
}

/**
 * Takes the `length` bytes at src (a saved readout, docs/on-device-learning.md section 5; more than its size when
 * the file is longer, the caller reading no further) as the readout in use.
 * False with the reason in `why` when they are not an adapted readout of this model; the readout is unchanged.
 */
export function readoutLoadBytes(m: Model, src: usize, length: i32, why: Writer): bool {
  const size = readoutBytes(m);
  if (<usize>length > size) {
    putText(why, "longer than an adapted readout of this model (");
    putInt(why, <i64>size);
    putText(why, " bytes)");
    return false;
  }
  if (<usize>length != size) {
    putInt(why, length);
    putText(why, " bytes, an adapted readout of this model has ");
    putInt(why, <i64>size);
    return false;
  }
  if (readoutCheck(m, src, size) != 0) {
    putBytes(why, errorPtr(), errorLen());
    return false;
  }
  memory.copy(readout, src, size);
  adapted = true;
  return true;
}

/** The readout in use, sealed with its checksum: its readoutBytes(m) bytes start here. */
export function readoutSaved(m: Model): usize {
  readoutSeal(readout, readoutBytes(m));
  return readout;
}
