/**
 * `phasor run`: a model over an event file, streamed (formats.md, "Commands"). Events are read chunk by chunk,
 * each run of events of one seq goes to the engine in one pushBatch call, and the NDJSON output leaves in
 * large writes, so neither the input nor the output has to fit in memory.
 */
import { createEngine } from "../../../host/engine/create.js";
import type { Engine, Stream, TimePolicy } from "../../../host/engine/engine.js";
import { BadLineError, EventParser, type SeqId, type StreamEvent } from "../../../host/engine/events.js";
import { argmax } from "../../../host/engine/evaluate.js";
import { refusedEvent } from "../../../host/engine/event-source.js";
import { defineCommand } from "../command.js";
import { firstSaturatedEvent, saturationWarning } from "../../../host/engine/input-range.js";
import { escapeControls } from "../../../host/errors.js";
import { EVENT_READER_FLAGS, LineWriter, openTextInput, skippedNote, whenReaderGoes, type TextInput } from "../io.js";
import { ENGINE_FLAGS, engineOptions, loadModelFile } from "../model-file.js";

export const command = defineCommand({
  usage:
    "--model M --events E [--engine reference|float|fixed] [--simd auto|on|off] [--emit every|last] [--hidden] " +
    "[--skip-bad] [--max-line-bytes N] [--time-policy reject|clamp]",
  description:
    "Runs a model over events and prints NDJSON on stdout. With --emit every (the default, whatever the model's\n" +
    'readout mode): one line per event {"seq","i","t","y"}, i counting the events of the seq from 0. With\n' +
    '--emit last: one line per sequence {"seq","n","y","label"}, label the argmax of y (and "name", its entry in\n' +
    'the model\'s labels, when it has them). --hidden adds "h", the last layer\'s hidden state. The state starts\n' +
    'at zero for every seq; events without seq are one stream, printed with "seq": null.',
  flags: {
    model: { kind: "string", required: true, value: "M", help: "float model (.json) or quantized model (.plsm)" },
    events: { kind: "string", required: true, value: "E", help: "events, NDJSON or CSV; - reads stdin" },
    ...ENGINE_FLAGS,
    emit: { kind: "enum", values: ["every", "last"], default: "every", help: "one line per event, or per sequence" },
    hidden: { kind: "boolean", help: 'add "h", the last layer\'s hidden state' },
    ...EVENT_READER_FLAGS,
    "time-policy": {
      kind: "enum",
      values: ["reject", "clamp"],
      default: "reject",
      help: "an event earlier than the previous one of its seq fails the run, or runs at the previous time",
    },
  },

  async run(flags, io) {
    const loaded = await loadModelFile(flags.model);
    // the engine's own default (fixed for a quantized model, float otherwise); fixed on a JSON model fails here
    const engine = await createEngine(loaded, engineOptions(flags));
    try {
      const input = await openTextInput(flags.events, io.stdin);
      await runEvents(engine, input, io.stdout, {
        emit: flags.emit,
        hidden: flags.hidden,
        skipBad: flags["skip-bad"],
        maxLineBytes: flags["max-line-bytes"],
        timePolicy: flags["time-policy"],
        // also when the run fails later: the lines skipped until then were left out all the same, and the inputs
        // saturated until then were run saturated
        ended: (parser, saturated) => {
          const skipped = skippedNote(parser);
          if (skipped !== undefined) io.stderr.write(`phasor run: ${skipped}\n`);
          if (saturated.count > 0) io.stderr.write(`phasor run: warning: ${escapeControls(saturationWarning(saturated.count, engine.inputFrac as number, saturated.first))}\n`);
        },
      });
    } finally {
      engine.dispose();
    }
  },
});

export interface RunSettings {
  emit: "every" | "last";
  hidden: boolean;
  skipBad: boolean;
  maxLineBytes: number;
  timePolicy: TimePolicy;
  /**
   * called when the run ends, whether it succeeded, failed or lost the reader of its output (io.ts, whenReaderGoes),
   * with the parser (what --skip-bad skipped) and the input values the fixed engine saturated (Engine.inputFrac), with
   * the `file:line` of the first
   */
  ended?: (parser: EventParser, saturated: { count: number; first: string | undefined }) => void;
}

/**
 * `phasor run` once its engine is made: the events of `input` through one stream of it, the NDJSON to `out`.
 * Returns the parser, which counted the lines --skip-bad skipped; a bad line throws after the outputs of the
 * events before it are written. Exported so that tests can hold other readers to this very code in-process.
 */
export async function runEvents(engine: Engine, input: TextInput, out: NodeJS.WritableStream, settings: RunSettings): Promise<EventParser> {
  const parser = new EventParser({
    inputSize: engine.model.inputSize,
    file: input.name,
    skipBad: settings.skipBad,
    maxLineBytes: settings.maxLineBytes,
    checkTimeOrder: settings.timePolicy === "reject",
  });
  const writer = new LineWriter(out);
  const stream = engine.createStream({ timePolicy: settings.timePolicy });
  const runner = new SequenceRunner(stream, writer, {
    file: input.name,
    emit: settings.emit,
    hidden: settings.hidden,
    labels: engine.model.readout.labels,
    inputFrac: engine.inputFrac,
  });
  const end = () => settings.ended?.(parser, runner.saturated());
  const forget = whenReaderGoes(end);
  try {
    for await (const chunk of input.chunks) {
      await runner.feed(parser.pushBytes(chunk));
    }
    await runner.feed(parser.end());
    runner.finish();
  } catch (err) {
    // a bad line, or an event the engine refuses, stops the run, but the events before it have been read: their
    // outputs are printed first
    try {
      if (err instanceof BadLineError) await runner.feed(err.before);
    } finally {
      await writer.flush();
    }
    throw err;
  } finally {
    forget();
    end();
    stream.dispose();
  }
  await writer.flush();
  return parser;
}

interface OutputOptions {
  file: string;
  emit: "every" | "last";
  hidden: boolean;
  labels: string[] | undefined;
  /** the engine's input format, when it has one (Engine.inputFrac) */
  inputFrac: number | null;
}

/** Feeds events to one stream, resetting it whenever the seq changes, and prints the outputs. */
class SequenceRunner {
  private started = false;
  private seq: SeqId | undefined;
  private seqJson = "null";
  /** events of the current seq so far */
  private count = 0;
  /** the time the last event of the current seq ran at (a clamped event runs at its predecessor's time) */
  private ranAt = -Infinity;
  /** batch buffers, grown to the longest run of one chunk: no allocation per event */
  private t = new Float64Array(0);
  private x = new Float64Array(0);
  private y = new Float64Array(0);
  private h = new Float64Array(0);
  /** input values the fixed engine saturated in the sequences before the current one, and in it until `seqSaturated` */
  private saturatedBefore = 0;
  private seqSaturated = 0;
  private firstSaturated: string | undefined;

  constructor(
    private readonly stream: Stream,
    private readonly out: LineWriter,
    private readonly options: OutputOptions,
  ) {}

  async feed(events: StreamEvent[]): Promise<void> {
    let start = 0;
    while (start < events.length) {
      const seq = events[start].seq;
      let end = start + 1;
      while (end < events.length && events[end].seq === seq) end++;
      if (!this.started || seq !== this.seq) this.beginSequence(seq);
      this.pushRun(events, start, end);
      await this.out.flushIfFull();
      start = end;
    }
  }

  /** prints the last sequence's line with --emit last */
  finish(): void {
    if (this.started) this.endSequence();
  }

  /** The input values the engine saturated so far (its stats count them per sequence), and the `file:line` of the first. */
  saturated(): { count: number; first: string | undefined } {
    this.countSaturated();
    return { count: this.saturatedBefore + this.seqSaturated, first: this.firstSaturated };
  }

  /** Takes the stream's count of saturated inputs (since its last reset); true when it grew. */
  private countSaturated(): boolean {
    if (this.options.inputFrac === null || !this.started) return false;
    const count = this.stream.stats().inputsSaturated;
    if (count === this.seqSaturated) return false;
    this.seqSaturated = count;
    return true;
  }

  private beginSequence(seq: SeqId | undefined): void {
    if (this.started) this.endSequence();
    this.countSaturated();
    this.saturatedBefore += this.seqSaturated;
    this.seqSaturated = 0;
    this.stream.reset();
    this.started = true;
    this.seq = seq;
    this.seqJson = JSON.stringify(seq ?? null);
    this.count = 0;
    this.ranAt = -Infinity;
  }

  private endSequence(): void {
    if (this.options.emit !== "last") return;
    const y = this.stream.output();
    const best = argmax(y);
    let line = `{"seq":${this.seqJson},"n":${this.count},"y":${numbers(y, 0, y.length)},"label":${best}`;
    const name = this.options.labels?.[best];
    if (name !== undefined) line += `,"name":${JSON.stringify(name)}`;
    if (this.options.hidden) {
      const h = this.stream.hidden();
      line += `,"h":${numbers(h, 0, h.length)}`;
    }
    this.out.line(line + "}");
  }

  private pushRun(events: StreamEvent[], start: number, end: number): void {
    const n = end - start;
    const stream = this.stream;
    const inputSize = stream.inputSize;
    const outputSize = stream.outputSize;
    const hiddenSize = stream.hiddenSize;
    const every = this.options.emit === "every";
    const withHidden = every && this.options.hidden;
    if (this.t.length < n) {
      this.t = new Float64Array(n);
      this.x = new Float64Array(n * inputSize);
      if (every) this.y = new Float64Array(n * outputSize);
      if (withHidden) this.h = new Float64Array(n * hiddenSize);
    }
    const t = this.t.subarray(0, n);
    for (let k = 0; k < n; k++) {
      t[k] = events[start + k].t;
      this.x.set(events[start + k].x, k * inputSize);
    }
    const y = every ? this.y.subarray(0, n * outputSize) : undefined;
    const h = withHidden ? this.h.subarray(0, n * hiddenSize) : undefined;
    const x = this.x.subarray(0, n * inputSize);
    try {
      stream.pushBatch(t, x, y, h);
    } catch (err) {
      // a refused batch leaves the state untouched, so replaying it one event at a time finds the line, and the
      // events before that one are printed as the batch would have printed them
      const lines = Int32Array.from(events.slice(start, end), (event) => event.line);
      const ran = (k: number) => this.ran(t[k], every ? stream.output() : undefined, 0, withHidden ? stream.hidden() : undefined, 0);
      throw refusedEvent(err, stream, t, x, { file: this.options.file, lines, seq: this.seq }, ran);
    }
    for (let k = 0; k < n; k++) this.ran(t[k], y, k * outputSize, h, k * hiddenSize);
    if (this.countSaturated() && this.firstSaturated === undefined) this.findSaturated(events, start, x);
  }

  /** Notes the line of the first event of a run that the engine saturated an input of. */
  private findSaturated(events: StreamEvent[], start: number, x: Float64Array): void {
    const e = firstSaturatedEvent(x, this.options.inputFrac as number, this.stream.inputSize);
    if (e >= 0) this.firstSaturated = `${this.options.file}:${events[start + e].line}`;
  }

  /** One event run: its output line when y is given (--emit every; h with --hidden), and the count. */
  private ran(t: number, y: Float64Array | undefined, yAt: number, h: Float64Array | undefined, hAt: number): void {
    // print the time the event ran at: its own, or its predecessor's when time policy "clamp" moved it
    this.ranAt = Math.max(t, this.ranAt);
    if (y !== undefined) {
      let line = `{"seq":${this.seqJson},"i":${this.count},"t":${number(this.ranAt)},"y":${numbers(y, yAt, this.stream.outputSize)}`;
      if (h !== undefined) line += `,"h":${numbers(h, hAt, this.stream.hiddenSize)}`;
      this.out.line(line + "}");
    }
    this.count++;
  }
}

/** a double as JSON.stringify prints it: shortest round-trip form, null when not finite */
function number(value: number): string {
  return Number.isFinite(value) ? String(value) : "null";
}

function numbers(values: Float64Array, offset: number, length: number): string {
  let text = "[";
  for (let k = 0; k < length; k++) text += (k > 0 ? "," : "") + number(values[offset + k]);
  return text + "]";
}
