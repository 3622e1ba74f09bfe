// The learning microcontroller module's own part (docs/on-device-learning.md, "The calls"): the adapted readout,
// laid out in the arena after everything assembly/mcu.ts lays out, so that the flashed image, the weight memory,
// stays as the host wrote it. Compiled only into build/phasor-mcu-learn.wasm (assembly/mcu-learn.ts, `--use
// PHASOR_LEARN=1`); the inference module calls none of it.

import { E_MODEL, E_STATE } from "./errors";
import { Model } from "./model";
import { align16 } from "./padding";
import { learnStep, learnedOutput, readoutBytes, readoutCheck, readoutFromModel, readoutSeal } from "./fixed/readout-learning";

/** the model and stream init set up; 0 before a successful init */
let model: usize = 0;
let stream: usize = 0;
/** the readout that learns (outputs come from it once `adapted`), where the host reads and writes a readout's
 * bytes, and the targets of squared error */
let readout: usize = 0;
let exchange: usize = 0;
let targets: usize = 0;
/** readoutBytes of the model */
let size: usize = 0;
let adapted = false;

/** init has begun: whatever was laid out is about to be overwritten. */
export function learningStop(): void {
  model = 0;
}

/** Places the adapted readout, the exchange area and the targets from `at`; returns the first byte after them. */
export function learningLayout(m: Model, at: usize): usize {
  size = readoutBytes(m);
  readout = align16(at);
  exchange = align16(readout + size);
  targets = align16(exchange + size);
  return targets + (<usize>m.outputSize << 3);
}

/** init succeeded: the stream learns from the flashed readout. */
export function learningStart(m: Model, st: usize): void {
  model = changetype<usize>(m);
  stream = st;
  readoutFromModel(m, readout);
  adapted = false;
}

/** output() from the adapted readout into out, when there is one; false otherwise. */
export function learnedOutputInto(out: usize): bool {
  if (!adapted) return false;
  learnedOutput(changetype<Model>(model), stream, readout, out);
  return true;
}

/** Where the host writes outputSize f64 targets before learn(-1, ...) (0 before init). */
export function targetBuffer(): usize {
  return model ? targets : 0;
}

/**
 * One learning step from the current state: cross-entropy towards class `label` (label >= 0), or squared error
 * towards the outputSize targets at targetBuffer() (label -1). 0 (the step was eta), 1 (the step was capped at
 * c 2 / lambda), -2 a label, target, eta or c out of range (nothing changed), -3 no model.
 */
export function learn(label: i32, eta: f64, c: f64): i32 {
  if (!model) return E_STATE;
  const status = learnStep(changetype<Model>(model), stream, readout, label, label == -1 ? targets : 0, eta, c);
  if (status >= 0) adapted = true;
  return status;
}

/** Where readoutSave writes, and readoutLoad reads, a readout's bytes (0 before init). */
export function readoutBuffer(): usize {
  return model ? exchange : 0;
}

/** Bytes of an adapted readout of the model (0 before init). */
export function readoutSize(): i32 {
  return model ? <i32>size : 0;
}

/** Writes the readout in use (the flashed one, until a step or a load) to readoutBuffer(): its size, or -3. */
export function readoutSave(): i32 {
  if (!model) return E_STATE;
  readoutSeal(readout, size);
  memory.copy(exchange, readout, size);
  return <i32>size;
}

/** Takes the readout bytes at readoutBuffer() as the readout in use: 0, -1 refused (not a readout of this model,
 * damaged, out of range; the readout in use is unchanged), -3 no model. */
export function readoutLoad(): i32 {
  if (!model) return E_STATE;
  if (readoutCheck(changetype<Model>(model), exchange, size) != 0) return E_MODEL;
  memory.copy(readout, exchange, size);
  adapted = true;
  return 0;
}

/** Back to the flashed readout. */
export function readoutReset(): void {
  if (!model) return;
  readoutFromModel(changetype<Model>(model), readout);
  adapted = false;
}
