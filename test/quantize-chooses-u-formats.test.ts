// How U's row formats are chosen (host/model/quantize.ts, UFormats; host/model/quantize-checked.ts): the whole-row
// formats ("pairs", which the scalar builds sum two rows per multiply) where the fixed engine is within plstm.md
// section 3 with them, the finer lane-chunk formats ("fine") where it is not, and either when asked for.
import "../host/node.js";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { modelToJson, type FloatModel } from "../host/model/model.js";
import { quantize } from "../host/model/quantize.js";
import { quantizeChecked } from "../host/model/quantize-checked.js";
import { phasor } from "./support/cli.js";
import { Rng, randomModel, randomStream, type RandomStream } from "./support/random.js";

/** H = 64 and U uniform on +-0.5: each U row's sum of |w| is about 16, so the whole-row bound holds U to about Q12,
 * too coarse for plstm.md section 3 on these events; the lane-chunk bound gives about two bits more. */
function largeU(): { model: FloatModel; calibration: RandomStream[] } {
  const rng = new Rng(11);
  const model = randomModel(rng, { inputSize: 2, hidden: [64], peephole: true, rOn: 0.5, outputs: 2, mode: "every" });
  model.layers[0].U.forEach((_, i, U) => (U[i] = rng.uniform(-0.5, 0.5)));
  return { model, calibration: [0, 1, 2].map(() => randomStream(rng, { n: 200, inputSize: 2 })) };
}

function ordinary(): { model: FloatModel; calibration: RandomStream[] } {
  const rng = new Rng(12);
  const model = randomModel(rng, { inputSize: 2, hidden: [64], peephole: true, rOn: 0.5, outputs: 2, mode: "every" });
  return { model, calibration: [0, 1, 2].map(() => randomStream(rng, { n: 200, inputSize: 2 })) };
}

const dir = mkdtempSync(join(tmpdir(), "phasor-uformats-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("quantizeChecked", () => {
  it("keeps the whole-row formats where they are within the tolerances", async () => {
    const { model, calibration } = ordinary();
    const q = await quantizeChecked(model, calibration, "m");
    expect(q.uFormats).toBe("pairs");
    expect(q.beyond).toEqual([]);
    expect(q.result.bytes).toEqual(quantize(model, calibration, "m", "int16", "pairs").bytes);
  });

  it("takes the finer formats where the whole-row ones break the tolerances and the finer ones meet them", async () => {
    const { model, calibration } = largeU();
    const pairs = await quantizeChecked(model, calibration, "m", "int16", "pairs");
    expect(pairs.beyond.length).toBeGreaterThan(0);
    const q = await quantizeChecked(model, calibration, "m");
    expect(q.uFormats).toBe("fine");
    expect(q.beyond).toEqual([]);
    expect(q.error.maxAbsH).toBeLessThan(pairs.error.maxAbsH / 4);
    expect(q.result.bytes).toEqual(quantize(model, calibration, "m", "int16", "fine").bytes);
    // finer in every row that the lane-chunk bound frees, never coarser
    const [fine, coarse] = [q.result.plan.layers[0].uFrac, pairs.result.plan.layers[0].uFrac];
    fine.forEach((f, r) => expect(f, `U row ${r}`).toBeGreaterThanOrEqual(coarse[r]));
    expect(fine.some((f, r) => f > coarse[r])).toBe(true);
  });

  it("gives what is asked for, also beyond the tolerances, and says so", async () => {
    const { model, calibration } = ordinary();
    const fine = await quantizeChecked(model, calibration, "m", "int16", "fine");
    expect(fine.uFormats).toBe("fine");
    expect(fine.result.bytes).toEqual(quantize(model, calibration, "m", "int16", "fine").bytes);
    const big = largeU();
    const pairs = await quantizeChecked(big.model, big.calibration, "m", "int16", "pairs");
    expect(pairs.uFormats).toBe("pairs");
    expect(pairs.beyond.join("; ")).toMatch(/maxAbsH/);
  });

  it("int8 rows never reach the whole-row bound: both choices are the same file", async () => {
    const { model, calibration } = largeU();
    const q = await quantizeChecked(model, calibration, "m", "int8");
    expect(q.result.bytes).toEqual(quantize(model, calibration, "m", "int8", "fine").bytes);
    expect(q.result.bytes).toEqual(quantize(model, calibration, "m", "int8", "pairs").bytes);
  });
});

describe("phasor quantize --u-formats", () => {
  const { model, calibration } = largeU();
  const modelPath = join(dir, "large-u.json");
  const calibPath = join(dir, "calib.ndjson");
  writeFileSync(modelPath, JSON.stringify(modelToJson(model)));
  writeFileSync(
    calibPath,
    calibration.flatMap((s, k) => Array.from(s.t, (t, e) => JSON.stringify({ t, x: Array.from(s.x.subarray(2 * e, 2 * e + 2)), seq: `s${k}` }))).join("\n") + "\n",
  );

  it("auto (the default) writes the finer formats for this model and says so; pairs is refused as beyond the tolerances", () => {
    const out = join(dir, "auto.plsm");
    const auto = phasor(["quantize", "--model", modelPath, "--calib", calibPath, "--out", out]);
    expect(auto.stderr).toBe("");
    expect(auto.status).toBe(0);
    expect(JSON.parse(auto.stdout).uFormats).toBe("fine");
    expect(new Uint8Array(readFileSync(out))).toEqual(quantize(model, calibration, modelPath, "int16", "fine").bytes);

    const refused = phasor(["quantize", "--model", modelPath, "--calib", calibPath, "--out", join(dir, "pairs.plsm"), "--u-formats", "pairs"]);
    expect(refused.status).toBe(1);
    expect(JSON.parse(refused.stdout).uFormats).toBe("pairs");
    expect(refused.stderr).toMatch(/further from the float64 reference.*pairs\.plsm was not written/);
  });

  it("refuses a choice it does not know, naming the flag and the choices", () => {
    const r = phasor(["quantize", "--model", modelPath, "--calib", calibPath, "--out", join(dir, "x.plsm"), "--u-formats", "finest"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--u-formats/);
    expect(r.stderr).toMatch(/auto.*pairs.*fine/);
  });
});
