/**
 * `phasor demo`: the inference path end to end on a small built-in example, without training (`npm start` trains). A seeded, untrained 110-unit model (the paper's time-gate initialisation) is quantized on freq1-async
 * events, then all three engines stream fresh events; it prints how closely the wasm engines follow the float64
 * reference, their speed, and the fraction of units each event updated.
 */
import { compareEngines } from "../../../host/engine/compare.js";
import { createEngine } from "../../../host/engine/create.js";
import { evaluate, type LabelledSample } from "../../../host/engine/evaluate.js";
import { randomModel } from "../../../host/model/init.js";
import { quantize } from "../../../host/model/quantize.js";
import { Rng } from "../../../host/rng.js";
import { generate } from "../../../host/training/tasks.js";
import { defineCommand } from "../command.js";

function sequences(n: number, seed: number): LabelledSample[] {
  return generate("freq1-async", n, seed).map((s) => ({ t: s.t, x: Float32Array.from(s.x), label: s.label }));
}

export const command = defineCommand({
  usage: "",
  description: "Runs the inference demo: quantize an example model, stream events through every engine, compare.",
  flags: {},
  async run(_flags, io) {
    const say = (line: string) => io.stdout.write(line + "\n");
    const model = randomModel(new Rng(1), { inputSize: 1, hidden: [110], peephole: true, rOn: 0.05, outputs: 2, mode: "last" });
    const calibration = sequences(50, 1);
    const fresh = sequences(500, 2);
    const quantized = quantize(model, calibration, "example");
    say(`example model: 1 layer of 110 units, r_on 0.05, untrained (seed 1); quantized on ${quantized.calibration.events} events`);
    say(`  .plsm image ${quantized.bytes.length} bytes, ${2 ** quantized.plan.ticksLog2} ticks per ms`);
    const loaded = { format: "plsm" as const, model: quantized.file.model, plsm: quantized.file, source: "example" };
    const reference = await createEngine(model, { engine: "reference" });
    const events = fresh.reduce((n, s) => n + s.t.length, 0);
    say(`streaming ${fresh.length} fresh freq1-async sequences (${events} events) through every engine:`);
    for (const [kind, simd] of [["fixed", "on"], ["fixed", "off"], ["float", "on"], ["reference", "off"]] as const) {
      const engine = await createEngine(kind === "fixed" ? loaded : model, { engine: kind, simd });
      const speed = evaluate(engine, fresh);
      const label = `${kind}${kind === "reference" ? "" : engine.simd ? " simd" : " scalar"}`.padEnd(13);
      let agreement = "";
      if (kind !== "reference") {
        const a = compareEngines(engine, reference, fresh);
        agreement = `  max |y - y_ref| ${a.maxAbsY.toExponential(1)}, max |h - h_ref| ${a.maxAbsH.toExponential(1)}, same class ${(100 * a.argmaxAgreement).toFixed(1)} %`;
      }
      say(`  ${label} ${Math.round(speed.eventsPerSec).toLocaleString("en-US").padStart(10)} events/s, ${(100 * speed.unitUpdateFraction).toFixed(1)} % of units updated${agreement}`);
      engine.dispose();
    }
    const memory = (await createEngine(loaded, { engine: "fixed" })).memory();
    say(`fixed engine memory: weights ${memory.weightsBytes} B, state ${memory.stateBytesPerStream} B per stream, scratch ${memory.scratchBytes} B`);
  },
});
