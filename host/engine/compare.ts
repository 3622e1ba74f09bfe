/**
 * How far one engine is from another on the same sequences, event by event: what the quantizer reports and
 * what the tolerance tests of plstm.md section 3 check.
 */
import type { Engine } from "./engine.js";
import type { CalibrationSequence } from "../model/quantize.js";
import { argmax } from "./evaluate.js";
import { pushBatchFrom } from "./event-source.js";

export interface Agreement {
  sequences: number;
  events: number;
  /** largest |h - h_ref| over every event and unit of the last layer */
  maxAbsH: number;
  /** largest |y - y_ref| over every event and output */
  maxAbsY: number;
  /** fraction of sequences whose final argmax of y agrees */
  argmaxAgreement: number;
}

export function compareEngines(engine: Engine, reference: Engine, sequences: CalibrationSequence[]): Agreement {
  const a = engine.createStream();
  const b = reference.createStream();
  const O = a.outputSize;
  const H = a.hiddenSize;
  let maxAbsH = 0;
  let maxAbsY = 0;
  let agree = 0;
  let events = 0;
  for (const seq of sequences) {
    const n = seq.t.length;
    const [ya, yb, ha, hb] = [O, O, H, H].map((k) => new Float64Array(n * k));
    a.reset();
    b.reset();
    pushBatchFrom(a, seq.t, seq.x, seq.source, ya, ha);
    pushBatchFrom(b, seq.t, seq.x, seq.source, yb, hb);
    for (let i = 0; i < ya.length; i++) maxAbsY = Math.max(maxAbsY, Math.abs(ya[i] - yb[i]));
    for (let i = 0; i < ha.length; i++) maxAbsH = Math.max(maxAbsH, Math.abs(ha[i] - hb[i]));
    if (n > 0 && argmax(ya, (n - 1) * O, O) === argmax(yb, (n - 1) * O, O)) agree++;
    events += n;
  }
  a.dispose();
  b.dispose();
  return { sequences: sequences.length, events, maxAbsH, maxAbsY, argmaxAgreement: sequences.length ? agree / sequences.length : 1 };
}
