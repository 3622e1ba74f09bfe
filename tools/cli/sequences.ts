/**
 * An event file read whole into sequences (consecutive events of one seq), for the commands that need every
 * sequence at once (quantize's calibration, eval). Each keeps the last label its events gave.
 */
import { groupBySeq, type EventParser, type SeqId, type StreamEvent } from "../../host/engine/events.js";
import type { TextInput } from "./io.js";

export interface LabelledSequence {
  seq: SeqId | undefined;
  t: Float64Array;
  x: Float64Array;
  /** the sequence's label, when its events carry one */
  label: number | undefined;
}

export async function readSequences(input: TextInput, parser: EventParser, inputSize: number): Promise<LabelledSequence[]> {
  const sequences: LabelledSequence[] = [];
  let seq: SeqId | undefined;
  let label: number | undefined;
  let n = 0;
  let t = new Float64Array(1024);
  let x = new Float64Array(1024 * inputSize);
  const close = () => {
    if (n > 0) sequences.push({ seq, t: t.slice(0, n), x: x.slice(0, n * inputSize), label });
    n = 0;
    label = undefined;
  };
  const append = (events: StreamEvent[]) => {
    for (const group of groupBySeq(events)) {
      if (n > 0 && group.seq !== seq) close();
      seq = group.seq;
      if (group.label !== undefined) label = group.label;
      for (const event of group.events) {
        if (n === t.length) {
          t = grow(t, 2 * n);
          x = grow(x, 2 * n * inputSize);
        }
        t[n] = event.t;
        x.set(event.x, n * inputSize);
        n++;
      }
    }
  };
  for await (const chunk of input.chunks) append(parser.pushBytes(chunk));
  append(parser.end());
  close();
  return sequences;
}

function grow<A extends Float64Array | Float32Array>(values: A, length: number): A {
  const bigger = new (values.constructor as new (length: number) => A)(length);
  bigger.set(values);
  return bigger;
}

