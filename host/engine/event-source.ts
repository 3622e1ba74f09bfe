/**
 * Where a sequence's events came from (a file, each event's line, its seq), so that a refusal of one of them names
 * it as formats.md asks of a bad event: the file, the line and the reason. A batch is validated whole before any of
 * it runs (Stream.pushBatch), so its error says only which event of the batch; the line comes from here.
 * Browser-safe: no node import.
 */
import type { Stream } from "./engine.js";
import { describeSeq, type SeqId } from "./events.js";
import { PhasorError } from "../errors.js";

export interface EventSource {
  /** the name messages give the file */
  file: string;
  /** the 1-based line of each event of the sequence */
  lines: Int32Array;
  seq: SeqId | undefined;
}

/** `file:first-last` of a whole sequence, and what it is: `seq "a"`, or "the events without seq". */
export function sequencePlace(source: EventSource): { where: string; what: string } {
  const { lines } = source;
  const span = lines.length > 1 && lines[lines.length - 1] !== lines[0] ? `${lines[0]}-${lines[lines.length - 1]}` : `${lines[0]}`;
  return { where: `${source.file}:${span}`, what: describeSeq(source.seq) };
}

/**
 * `stream.pushBatch`, and when the stream refuses the batch, the refusal of the first event it refuses alone, with
 * its `file:line` in front (refusedEvent). Without a source, pushBatch as it is.
 */
export function pushBatchFrom(
  stream: Stream,
  t: Float64Array,
  x: Float32Array | Float64Array,
  source: EventSource | undefined,
  y?: Float64Array,
  h?: Float64Array,
): void {
  try {
    stream.pushBatch(t, x, y, h);
  } catch (err) {
    throw source === undefined ? err : refusedEvent(err, stream, t, x, source);
  }
}

/**
 * The event of a refused batch, found by pushing its events one at a time from the state the refusal left
 * untouched, as the error to throw: its own refusal with `file:line` in front. The stream has run the events
 * before it, and `ran(k)` is called after each of them, while the stream holds its state (a caller that prints
 * every event's output prints theirs). An error that is not a PhasorError is a bug, and is given back as it was.
 */
export function refusedEvent(
  err: unknown,
  stream: Stream,
  t: Float64Array,
  x: Float32Array | Float64Array,
  source: EventSource,
  ran?: (k: number) => void,
): unknown {
  if (!(err instanceof PhasorError)) return err;
  const inputSize = stream.inputSize;
  for (let k = 0; k < t.length; k++) {
    try {
      stream.push(t[k], x.subarray(k * inputSize, (k + 1) * inputSize));
      ran?.(k);
    } catch (single) {
      if (single instanceof PhasorError) return new PhasorError(single.code, `${source.file}:${source.lines[k]}: ${single.message}`, single.refusal);
      return single;
    }
  }
  return new PhasorError(err.code, `${sequencePlace(source).where}: ${err.message}`, err.refusal);
}
