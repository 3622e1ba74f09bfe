// `phasor bench`'s training rows (host/bench.ts, issue 14 part 3): every configuration is measured, the dense rows
// compute every unit at every event, and the row that skips closed units computes about r_on of them (the bench's
// model keeps r_on = 0.05 fixed) and says so.
import { describe, expect, it } from "vitest";
import "../host/node.js";
import { runTrainBench } from "../host/bench.js";
import { simdSupported } from "../host/engine/wasm-source.js";

describe("the training rows of phasor bench", () => {
  it("measure each configuration, and the row that skips closed units computes the open ones only", async () => {
    const rows = await runTrainBench({ seconds: 0.2, threads: [1] });
    const first = simdSupported();
    expect(rows.map((r) => [r.simd, r.threads, r.skipClosed])).toEqual(
      first ? [[true, 1, false], [true, 1, true], [false, 1, false]] : [[false, 1, false], [false, 1, true]],
    );
    for (const r of rows) {
      expect(r.sequences).toBeGreaterThan(0);
      expect(r.sequencesPerSec).toBeGreaterThan(0);
    }
    for (const r of rows.filter((r) => !r.skipClosed)) expect(r.unitUpdateFraction).toBe(1);
    const skipped = rows.find((r) => r.skipClosed)!;
    // r_on = 0.05 of every period is open: over some thousand events and 110 units the fraction is near it
    expect(skipped.unitUpdateFraction).toBeGreaterThan(0.03);
    expect(skipped.unitUpdateFraction).toBeLessThan(0.07);
  });

  it("leaves the row out on request", async () => {
    const rows = await runTrainBench({ seconds: 0.05, threads: [1], builds: [false], skipClosed: false });
    expect(rows.map((r) => [r.simd, r.threads, r.skipClosed])).toEqual([[false, 1, false]]);
  });
});
