/**
 * An event file read whole into sequences (consecutive events of one seq), for the commands that need every
 * sequence at once (quantize's calibration, eval). Each keeps the first label its events gave, and where a later
 * event gives another (formats.md: the label is the sequence's class or target, one to a sequence), and the line of
 * each event, so that an event the engine refuses later is named by its line.
 */
import type { EventSource } from "../../host/engine/event-source.js";
import { EventParser, groupBySeq, type SeqId, type StreamEvent } from "../../host/engine/events.js";
import { badInput } from "../../host/errors.js";
import { openTextInput, skippedNote } from "./io.js";

export interface LabelledSequence {
  seq: SeqId | undefined;
  t: Float64Array;
  x: Float64Array;
  /** the sequence's label, when its events carry one: the first one given */
  label: number | undefined;
  /** the line of the event that gave `label` */
  labelLine?: number;
  /** the first event of the sequence that gives a label other than `label`, if any (eval refuses the file) */
  otherLabel?: { label: number; line: number };
  source: EventSource;
}

/** The values of the event-reader flags (io.ts, EVENT_READER_FLAGS) as a command receives them. */
export interface EventReaderFlags {
  "skip-bad": boolean;
  "max-line-bytes": number;
}

/**
 * `path` (stdin for "-") read whole as the command's flags say; `name` is what messages call it, and `parser`
 * holds what --skip-bad left out.
 */
export async function readSequences(
  path: string,
  stdin: NodeJS.ReadableStream,
  inputSize: number,
  flags: EventReaderFlags,
): Promise<{ name: string; parser: EventParser; sequences: LabelledSequence[] }> {
  const input = await openTextInput(path, stdin);
  const parser = new EventParser({ inputSize, file: input.name, skipBad: flags["skip-bad"], maxLineBytes: flags["max-line-bytes"] });
  const sequences: LabelledSequence[] = [];
  let seq: SeqId | undefined;
  let label: number | undefined;
  let labelLine: number | undefined;
  let otherLabel: { label: number; line: number } | undefined;
  let n = 0;
  let t = new Float64Array(1024);
  let x = new Float64Array(1024 * inputSize);
  let lines = new Int32Array(1024);
  const close = () => {
    if (n > 0) {
      const source = { file: input.name, lines: lines.slice(0, n), seq };
      sequences.push({ seq, t: t.slice(0, n), x: x.slice(0, n * inputSize), label, labelLine, ...(otherLabel ? { otherLabel } : {}), source });
    }
    n = 0;
    label = undefined;
    labelLine = undefined;
    otherLabel = undefined;
  };
  const append = (events: StreamEvent[]) => {
    for (const group of groupBySeq(events)) {
      if (n > 0 && group.seq !== seq) close();
      seq = group.seq;
      for (const event of group.events) {
        if (event.label !== undefined) {
          if (label === undefined) {
            label = event.label;
            labelLine = event.line;
          } else if (event.label !== label && otherLabel === undefined) otherLabel = { label: event.label, line: event.line };
        }
        if (n === t.length) {
          t = grow(t, 2 * n);
          x = grow(x, 2 * n * inputSize);
          lines = grow(lines, 2 * n);
        }
        t[n] = event.t;
        lines[n] = event.line;
        x.set(event.x, n * inputSize);
        n++;
      }
    }
  };
  for await (const chunk of input.chunks) append(parser.pushBytes(chunk));
  append(parser.end());
  close();
  return { name: input.name, parser, sequences };
}

/**
 * What `readSequences` read, for a command that needs at least one sequence to `use` ("calibrate on"): what
 * --skip-bad left out goes to stderr at once, before anything else can fail, and a file with no event left is
 * refused, saying whether its lines were all bad.
 */
export function requireSequences(
  read: { name: string; parser: EventParser; sequences: LabelledSequence[] },
  use: string,
  command: string,
  stderr: NodeJS.WritableStream,
): LabelledSequence[] {
  const skipped = skippedNote(read.parser);
  if (skipped !== undefined) stderr.write(`phasor ${command}: ${skipped}\n`);
  if (read.sequences.length === 0) {
    throw badInput(read.name, read.parser.skipped > 0 ? `no good events to ${use} (every event line was bad)` : `no events to ${use}`);
  }
  return read.sequences;
}

function grow<A extends Float64Array | Float32Array | Int32Array>(values: A, length: number): A {
  const bigger = new (values.constructor as new (length: number) => A)(length);
  bigger.set(values);
  return bigger;
}

