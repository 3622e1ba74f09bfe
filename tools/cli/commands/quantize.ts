/**
 * `phasor quantize`: float model to fixed-point model with calibration events (formats.md, "Commands"). The
 * calibration file is parsed as a stream into one CalibrationSequence per seq; host/model/quantize.ts picks the number
 * formats; the fixed engine then runs the new model on the same events beside the float64 reference, and the
 * summary reports how far apart they are. The .plsm is written only once all of that has succeeded, and
 * atomically, so a failed run never leaves a partial file nor replaces an existing one.
 */
import { stat } from "node:fs/promises";
import { dirname, extname } from "node:path";
import type { Agreement } from "../../../host/engine/compare.js";
import { PhasorError, escapeControls } from "../../../host/errors.js";
import type { FloatModel } from "../../../host/model/model.js";
import { KIND_FIXED, PRE_FRAC, metadataBytes, withMetadata, type FixedPlan } from "../../../host/model/plsm.js";
import { FIXED_TOLERANCE, WEIGHT_WIDTHS } from "../../../host/model/quantize.js";
import { U_FORMAT_CHOICES, quantizeChecked } from "../../../host/model/quantize-checked.js";
import { defineCommand } from "../command.js";
import { ioReason, writeFileAtomically } from "../../../host/files.js";
import { EVENT_READER_FLAGS } from "../io.js";
import { readSequences, requireSequences } from "../sequences.js";
import { inputLimit } from "../../../host/engine/input-range.js";
import { loadModelFile, readModelFile } from "../model-file.js";
import { sensorDeclaration, sensorLayoutOf } from "../sensor-declaration.js";

export const command = defineCommand({
  usage: "--model M.json --calib E --out M.plsm [--sensors S.json] [--weights int16|int8] [--u-formats auto|pairs|fine] [--skip-bad] [--max-line-bytes N] [--accept-error]",
  description:
    "Quantizes a float model to the fixed-point .plsm format, with number formats chosen from the weights and from\n" +
    "the ranges the float64 reference reaches on the calibration events. Prints one JSON line: the formats chosen,\n" +
    "the file and memory sizes, the calibration ranges, and the error of the fixed engine against the reference\n" +
    'on the calibration events ({"maxAbsH","maxAbsY","argmaxAgreement"}). An error beyond the spec\'s tolerances\n' +
    `(maxAbsH ${FIXED_TOLERANCE.maxAbsH}, maxAbsY ${FIXED_TOLERANCE.maxAbsY}, argmaxAgreement ${FIXED_TOLERANCE.argmaxAgreement} for a "last" readout) ` +
    "fails the run (exit 1) after the summary line,\n" +
    "unless --accept-error is given. The output file is replaced only when everything succeeded.\n" +
    "--weights int8 stores the gate matrices W and U as int8 (half the image; docs/fixed-point.md, \"int8 weights\"):\n" +
    "then \"error\" is the engine against the reference running the model the file stands for (its int8 weights),\n" +
    'held to the tolerances above, and "weightError" is against the float model, whose argmaxAgreement must reach\n' +
    `${FIXED_TOLERANCE.argmaxAgreement} for a "last" readout (its h and y move by the weights' rounding).\n` +
    "--u-formats says how the recurrent matrix U's rows get their formats (docs/fixed-point.md, \"U h in 64 bits\"):\n" +
    "pairs keeps each row's sum of |w_q| within 65538, which the scalar builds sum two rows per multiply and every\n" +
    "earlier engine reads; fine takes the finest formats the SIMD build's lanes allow, about two more bits on a trained\n" +
    "model's U, at more operators a MAC in the scalar builds; auto (the default) writes pairs where its error is\n" +
    'within the tolerances, and fine otherwise. "uFormats" in the summary says which the file has.\n' +
    "The model's sensor declaration (its \"sensors\" field, or --sensors in its place) goes into the .plsm's metadata,\n" +
    "where phasor gateway finds it (docs/gateway.md, \"Sensors\"); one the gateway would refuse is refused here.",
  flags: {
    model: { kind: "string", required: true, value: "M.json", help: "float model" },
    calib: { kind: "string", required: true, value: "E", help: "calibration events, NDJSON or CSV; - reads stdin" },
    out: { kind: "string", required: true, value: "M.plsm", help: "where to write the quantized model" },
    sensors: { kind: "string", value: "S.json", help: "sensor declaration to keep in the .plsm for phasor gateway, in place of the model's \"sensors\" field" },
    weights: { kind: "enum", values: WEIGHT_WIDTHS, default: "int16", help: "element of the gate matrices W and U" },
    "u-formats": { kind: "enum", values: U_FORMAT_CHOICES, default: "auto", help: "the formats of U's rows: pairs (scalar builds' faster kernel), fine (closest to the float model), auto (pairs where within the tolerances)" },
    ...EVENT_READER_FLAGS,
    "accept-error": { kind: "boolean", help: "write the model even when its error on the calibration events is beyond the spec's tolerances" },
  },

  async run(flags, io) {
    const modelBytes = readModelFile(flags.model);
    const loaded = await loadModelFile(flags.model, modelBytes);
    if (loaded.format !== "json") {
      const what = loaded.plsm.kind === KIND_FIXED ? "already a quantized model" : `a float model in a .plsm (kind ${loaded.plsm.kind})`;
      throw new PhasorError("bad-args", `--model ${flags.model}: ${what}; quantize takes a float model as JSON (.json)`);
    }
    await checkOutputPath(flags.out);
    // held to the gateway's rules before any work: one it would refuse is not written into the model
    const declaration = sensorDeclaration(flags.sensors, loaded, modelBytes);
    sensorLayoutOf(declaration, loaded.model.inputSize);
    // and no deeper than the .plsm's metadata may nest (a declaration with fields of its own), before any work too
    if (declaration !== undefined) metadataBytes({ sensors: declaration.json }, `${escapeControls(declaration.source)}, kept in the .plsm's metadata,`);

    const sequences = requireSequences(await readSequences(flags.calib, io.stdin, loaded.model.inputSize, flags), "calibrate on", "quantize", io.stderr);

    const int8 = flags.weights === "int8";
    const { result, uFormats, error, weightError, beyond, memory } = await quantizeChecked(loaded.model, sequences, flags.model, flags.weights, flags["u-formats"]);
    // in the metadata, where older readers ignore it (docs/plsm.md): the checked image's bytes are otherwise the same
    const bytes = declaration === undefined ? result.bytes : withMetadata(result.file, { ...result.file.meta, sensors: declaration.json });
    const summary = JSON.stringify({
      model: flags.model,
      out: flags.out,
      bytes: bytes.length,
      ...(int8 ? { weights: flags.weights } : {}),
      uFormats,
      layers: loaded.model.layers.map((L) => ({ inputSize: L.inputSize, hiddenSize: L.hiddenSize })),
      formats: formatsOf(loaded.model, result.plan),
      memory,
      calibration: result.calibration,
      error: agreementOf(error),
      ...(weightError ? { weightError: agreementOf(weightError) } : {}),
    });

    if (beyond.length > 0 && !flags["accept-error"]) {
      io.stdout.write(summary + "\n");
      throw new PhasorError(
        "runtime",
        `${flags.model}: the quantized model is further from the float64 reference on the calibration events than plstm.md ` +
          `section 3 allows (${beyond.join("; ")}); ${flags.out} was not written (--accept-error writes it anyway)`,
      );
    }
    await writeFileAtomically(flags.out, bytes);
    if (beyond.length > 0) io.stderr.write(`phasor quantize: written with --accept-error although ${beyond.join("; ")}\n`);
    io.stdout.write(summary + "\n");
  },
});

/**
 * Fails before any work on an --out that can never be written: not named .plsm (every reader picks the format
 * by extension), a directory, or in a directory that does not exist. Whether the directory is writable is left
 * to the write itself, which reports it the same way.
 */
async function checkOutputPath(out: string): Promise<void> {
  if (extname(out).toLowerCase() !== ".plsm") {
    throw new PhasorError("bad-args", `--out ${out}: a quantized model is written as a .plsm file`);
  }
  const existing = await stat(out).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw new PhasorError("bad-args", `--out ${out}: ${ioReason(err)}`);
  });
  if (existing?.isDirectory()) throw new PhasorError("bad-args", `--out ${out}: it is a directory`);
  if (existing === undefined) {
    const dir = await stat(dirname(out)).catch(() => undefined);
    if (dir === undefined || !dir.isDirectory()) throw new PhasorError("bad-args", `--out ${out}: its directory does not exist`);
  }
}

/** The summary's part of an agreement. */
function agreementOf(a: Agreement) {
  return { maxAbsH: a.maxAbsH, maxAbsY: a.maxAbsY, argmaxAgreement: a.argmaxAgreement };
}

/** The smallest and largest of some numbers. */
function range(values: Iterable<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return { min, max };
}

/** The plan's number formats as fractional bits (docs/fixed-point.md), summarized over rows. */
function formatsOf(model: FloatModel, plan: FixedPlan) {
  return {
    timeUnit: model.timeUnit,
    ticksLog2: plan.ticksLog2,
    ticksPerUnit: 2 ** plan.ticksLog2,
    inputFrac: plan.inputFrac,
    // the largest |x| the engine takes as it is; beyond it an input saturates, and phasor run and eval warn of it
    inputLimit: inputLimit(plan.inputFrac),
    weightFracs: range(plan.layers.flatMap((L) => [...L.wFrac, ...L.uFrac])),
    peepholeFracs: plan.layers.map((L, n) => (model.layers[n].peephole ? L.pFrac : null)),
    readoutFracs: range(plan.vFrac),
    biasFrac: PRE_FRAC,
  };
}
