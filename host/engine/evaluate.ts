/**
 * Accuracy or mean squared error of an engine on labelled sequences (what `phasor eval` prints and what training
 * reports after quantizing). Classification: a model with two or more outputs, scored by the argmax of y after a
 * sequence's last event against its integer label. Regression: one output, scored by (y - target)^2 at the end.
 */
import type { Engine } from "./engine.js";
import { badInput } from "../errors.js";
import { firstSaturatedEvent } from "./input-range.js";
import { pushBatchFrom, sequencePlace, type EventSource } from "./event-source.js";

export interface LabelledSample {
  t: Float64Array;
  x: Float32Array | Float64Array;
  label: number | undefined;
  /** where the events came from, for messages that name their lines (an event file) */
  source?: EventSource;
}

export interface Evaluation {
  kind: "classification" | "regression";
  /** classification only */
  accuracy?: number;
  /** regression only */
  mse?: number;
  sequences: number;
  events: number;
  /** fraction of (unit, event) pairs whose gate was open: about r_on, the source of the speed-up */
  unitUpdateFraction: number;
  /** input values the fixed engine saturated to its input format (StreamStats.inputsSaturated), over all sequences */
  inputsSaturated: number;
  /** where the first of them was, `file:line`, when the sequences came from an event file */
  firstSaturated?: string;
  seconds: number;
  eventsPerSec: number;
}

/** Index of the largest of values[from .. from + n), the first one on ties: the predicted class. */
export function argmax(values: ArrayLike<number>, from = 0, n = values.length - from): number {
  let best = 0;
  for (let o = 1; o < n; o++) if (values[from + o] > values[from + best]) best = o;
  return best;
}

export function evaluate(engine: Engine, samples: LabelledSample[], source = "events"): Evaluation {
  const classification = engine.model.readout.outputSize > 1;
  const totalUnits = engine.model.layers.reduce((n, L) => n + L.hiddenSize, 0);
  samples.forEach((s, k) => {
    const { where, what } = s.source ? sequencePlace(s.source) : { where: source, what: `sequence ${k}` };
    // "the events without seq have", "seq "a" has"
    const has = what.startsWith("the events") ? "have" : "has";
    if (s.label === undefined) throw badInput(where, `${what} ${has} no label: eval needs labelled events`);
    if (classification && !(Number.isInteger(s.label) && s.label >= 0 && s.label < engine.model.readout.outputSize)) {
      throw badInput(where, `${what} ${has} label ${s.label}, not a class of this model (0..${engine.model.readout.outputSize - 1})`);
    }
  });
  const stream = engine.createStream();
  let correct = 0;
  let squared = 0;
  let events = 0;
  let updates = 0;
  let saturated = 0;
  let firstSaturated: string | undefined;
  const start = performance.now();
  for (const s of samples) {
    stream.reset();
    pushBatchFrom(stream, s.t, s.x, s.source);
    const y = stream.output();
    if (classification) {
      if (argmax(y) === s.label) correct++;
    } else {
      squared += (y[0] - (s.label as number)) ** 2;
    }
    const stats = stream.stats();
    events += stats.events;
    updates += stats.unitUpdates;
    if (stats.inputsSaturated > 0 && saturated === 0 && s.source && engine.inputFrac !== null) {
      const e = firstSaturatedEvent(s.x, engine.inputFrac, engine.model.inputSize);
      if (e >= 0) firstSaturated = `${s.source.file}:${s.source.lines[e]}`;
    }
    saturated += stats.inputsSaturated;
  }
  const seconds = (performance.now() - start) / 1000;
  stream.dispose();
  const n = samples.length;
  return {
    kind: classification ? "classification" : "regression",
    ...(classification ? { accuracy: n ? correct / n : 0 } : { mse: n ? squared / n : 0 }),
    sequences: n,
    events,
    unitUpdateFraction: events ? updates / (events * totalUnits) : 0,
    inputsSaturated: saturated,
    ...(firstSaturated !== undefined ? { firstSaturated } : {}),
    seconds,
    eventsPerSec: seconds > 0 ? events / seconds : 0,
  };
}
