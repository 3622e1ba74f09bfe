// The quantizer either holds every value of a model in the fixed formats (docs/fixed-point.md) or refuses the
// model naming the value: it never clamps one into range and writes a file that computes something else
// (issue 12: nothing an engine accepts may be silently wrong).
import "../host/node.js";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseModelText } from "../host/model/model.js";
import { quantize } from "../host/model/quantize.js";
import { rejection } from "./support/engines.js";

const TINY = readFileSync("examples/tiny-model.json", "utf8");
const CALIBRATION = [{ t: Float64Array.from([0, 0.52, 3, 7.5]), x: Float64Array.from([0.31, 0.77, -0.2, 0.05]) }];

function tinyWithBias(row: number, value: number) {
  const model = parseModelText(TINY, "tiny-model.json");
  model.layers[0].b[row] = value;
  return model;
}

describe("biases and the Q7.24 pre-activation format", () => {
  it("a bias just inside +-128 is kept to within 2^-24", () => {
    for (const b of [127.5, -127.99]) {
      const { file } = quantize(tinyWithBias(5, b), CALIBRATION, "m.json");
      expect(Math.abs(file.model.layers[0].b[5] - b)).toBeLessThanOrEqual(2 ** -25);
    }
  });

  it("a bias at or beyond +-128 is refused, naming the layer, the row and the range, not clamped", () => {
    for (const b of [128, -130, 1e6]) {
      const error = rejection(() => quantize(tinyWithBias(7, b), CALIBRATION, "m.json"), "bad-model");
      expect(error.message).toMatch(/^m\.json: layers\[0\]\.b\[7\]: .*bias range \(-128, 128\)/);
    }
  });
});
