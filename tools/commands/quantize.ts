/**
 * `phasor quantize`: float model to fixed-point model with calibration events (formats.md, "Commands").
 * Not written yet: the flags are declared so that usage and argument checks already hold.
 */
import { PhasorError } from "../../host/errors.js";
import { defineCommand } from "../command.js";

export const command = defineCommand({
  usage: "--model M.json --calib E --out M.plsm",
  description:
    "Quantizes a float model to the fixed-point .plsm format, calibrated on events, and prints a JSON summary line.",
  flags: {
    model: { kind: "string", required: true, value: "M.json", help: "float model" },
    calib: { kind: "string", required: true, value: "E", help: "calibration events, NDJSON or CSV; - reads stdin" },
    out: { kind: "string", required: true, value: "M.plsm", help: "where to write the quantized model" },
  },
  async run() {
    throw new PhasorError("runtime", "not implemented yet");
  },
});
