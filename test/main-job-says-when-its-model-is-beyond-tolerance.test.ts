// `phasor start` quantizes its trained model and, unlike `phasor quantize`, writes it whatever its error: it must
// then say plainly when the fixed engine is further from the float64 reference than plstm.md section 3 allows.
// A readout with weights of +-1000 gets a coarse row format (Q2: steps of 0.25 on V), so y moves far beyond 1e-2.
import { describe, expect, it } from "vitest";
import "../host/node.js";
import { generate } from "../host/training/tasks.js";
import { quantizeAndCheck } from "../tools/cli/commands/start.js";
import { Rng, randomModel } from "./support/random.js";

const calibration = generate("freq1-async", 20, 11).map((s) => ({ t: s.t, x: Float32Array.from(s.x), label: s.label }));

function model(readoutScale: number) {
  const m = randomModel(new Rng(5), { inputSize: 1, hidden: [16], peephole: true, rOn: 0.05, outputs: 2, mode: "last", tauRange: [1, 20], alpha: 0 });
  for (let k = 0; k < m.readout.V.length; k++) m.readout.V[k] *= readoutScale;
  return m;
}

describe("the main job's quantized model against plstm.md section 3", () => {
  it("says BEYOND, with the measured error, when the fixed engine is further from the reference than allowed", async () => {
    const { quantized, beyond, tolerance } = await quantizeAndCheck(model(4000), calibration);
    expect(beyond.some((b) => b.startsWith("maxAbsY"))).toBe(true);
    expect(tolerance).toMatch(/^BEYOND plstm\.md section 3's tolerances: .*maxAbsY ([0-9.]+e[-+][0-9]+).* on the 20 calibration sequences, U formats "(pairs|fine)" \(.*maxAbsY [0-9.e-]+ exceeds 0\.01/);
    expect(Number(/maxAbsY ([0-9.]+e[-+][0-9]+)/.exec(tolerance)?.[1])).toBeGreaterThan(0.01);
    expect(tolerance).toMatch(/model\.plsm is written all the same/);
    expect(quantized.bytes.length).toBeGreaterThan(0);
  });

  it("says within when it is", async () => {
    const { beyond, tolerance } = await quantizeAndCheck(model(1), calibration);
    expect(beyond).toEqual([]);
    expect(tolerance).toMatch(/^within plstm\.md section 3's tolerances: the fixed-point model against the float64 reference, maxAbsH [0-9.]+e-[0-9]+, maxAbsY [0-9.]+e-[0-9]+/);
    // within with the whole-row U formats, so those are kept (host/model/quantize-checked.ts)
    expect(tolerance).toMatch(/, U formats "pairs"$/);
  });
});
