/**
 * `phasor eval`: accuracy (classification) or MSE (regression) of a model on labelled events (formats.md,
 * "Commands"), one JSON line. The scoring is host/engine/evaluate.ts.
 */
import { createEngine } from "../../../host/engine/create.js";
import { evaluate } from "../../../host/engine/evaluate.js";
import { describeSeq } from "../../../host/engine/events.js";
import { badInput, escapeControls } from "../../../host/errors.js";
import { saturationWarning } from "../../../host/engine/input-range.js";
import { defineCommand } from "../command.js";
import { EVENT_READER_FLAGS } from "../io.js";
import { ENGINE_FLAGS, engineOptions, loadModelFile } from "../model-file.js";
import { readSequences, requireSequences, type LabelledSequence } from "../sequences.js";

export const command = defineCommand({
  usage: "--model M --events E [--engine reference|float|fixed] [--simd auto|on|off] [--skip-bad] [--max-line-bytes N]",
  description:
    "Scores a model on labelled events and prints one JSON line. A model with two or more outputs is a classifier:\n" +
    '"accuracy" is the fraction of sequences whose argmax of y after their last event equals their label. A model\n' +
    'with one output is a regressor: "mse" is the mean of (y - label)^2 at the end of each sequence. Also printed:\n' +
    '"sequences", "events", "unitUpdateFraction" (units updated per event over all units), "inputsSaturated" (inputs\n' +
    "beyond a quantized model's input format, which ran as its bound; also a warning on stderr), \"seconds\", \"eventsPerSec\".\n" +
    "A sequence's label may be on any of its events; events of one sequence that give two labels are refused.",
  flags: {
    model: { kind: "string", required: true, value: "M", help: "float model (.json) or quantized model (.plsm)" },
    events: { kind: "string", required: true, value: "E", help: "labelled events, NDJSON or CSV; - reads stdin" },
    ...ENGINE_FLAGS,
    ...EVENT_READER_FLAGS,
  },
  async run(flags, io) {
    const loaded = await loadModelFile(flags.model);
    const engine = await createEngine(loaded, engineOptions(flags));
    try {
      const read = await readSequences(flags.events, io.stdin, engine.model.inputSize, flags);
      const sequences = requireSequences(read, "evaluate on", "eval", io.stderr);
      refuseTwoLabels(sequences, read.name);
      const { firstSaturated, ...result } = evaluate(engine, sequences, read.name);
      io.stdout.write(JSON.stringify({ model: flags.model, engine: engine.kind, simd: engine.simd, ...result }) + "\n");
      if (result.inputsSaturated > 0) {
        io.stderr.write(`phasor eval: warning: ${escapeControls(saturationWarning(result.inputsSaturated, engine.inputFrac as number, firstSaturated))}\n`);
      }
    } finally {
      engine.dispose();
    }
  },
});

/**
 * A sequence's events that give it two labels (formats.md: `label` is the sequence's class or target) leave eval
 * nothing sound to score it against: before, the last one given was taken, and a file whose labels were per event
 * (or whose seq column was wrong) was scored without a word. Refused at the first event that differs.
 */
function refuseTwoLabels(sequences: LabelledSequence[], file: string): void {
  for (const s of sequences) {
    if (s.otherLabel === undefined) continue;
    const what = describeSeq(s.seq);
    throw badInput(
      `${file}:${s.otherLabel.line}`,
      `${what} ${what.startsWith("the events") ? "are" : "is"} given label ${s.otherLabel.label} here and label ${s.label} at line ${s.labelLine}: a sequence has one label, ` +
        "its class or target, and eval scores its output after its last event against it",
    );
  }
}
