/**
 * `phasor eval`: accuracy (classification) or MSE (regression) of a model on labelled events (formats.md,
 * "Commands"), one JSON line. The scoring is host/engine/evaluate.ts.
 */
import { createEngine } from "../../../host/engine/create.js";
import { evaluate } from "../../../host/engine/evaluate.js";
import { defineCommand } from "../command.js";
import { EVENT_READER_FLAGS } from "../io.js";
import { ENGINE_FLAGS, engineOptions, loadModelFile } from "../model-file.js";
import { readSequences, requireSequences } from "../sequences.js";

export const command = defineCommand({
  usage: "--model M --events E [--engine reference|float|fixed] [--simd auto|on|off] [--skip-bad] [--max-line-bytes N]",
  description:
    "Scores a model on labelled events and prints one JSON line. A model with two or more outputs is a classifier:\n" +
    '"accuracy" is the fraction of sequences whose argmax of y after their last event equals their label. A model\n' +
    'with one output is a regressor: "mse" is the mean of (y - label)^2 at the end of each sequence. Also printed:\n' +
    '"sequences", "events", "unitUpdateFraction" (units updated per event over all units), "seconds", "eventsPerSec".',
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
      const result = evaluate(engine, requireSequences(read, "evaluate on", "eval", io.stderr), read.name);
      io.stdout.write(JSON.stringify({ model: flags.model, engine: engine.kind, simd: engine.simd, ...result }) + "\n");
    } finally {
      engine.dispose();
    }
  },
});
