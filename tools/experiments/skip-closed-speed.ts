// What skipping closed units buys in training (issue 14 part 3, TrainerOptions.skipClosed) at a model's own
// parameters: the open fraction of a model trained with r_on learned is not the bench's 0.05. Two SIMD trainers
// on the model, one computing every unit and one skipping closed units, take turns on the same freq1-async batches
// (the bench's: batch 32, absolute time, Adam) in slices, so that a machine whose speed moves moves both alike.
//   npm run build && npx tsx tools/experiments/skip-closed-speed.ts --model M.json [--steps 96]
// Prints, per trainer, sequences/s of CPU time and of wall time, and the fraction of (event, unit) pairs computed.
// The learning rate is tiny so that the parameters, and with them the open fraction, stay the model's.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import "../../host/node.js";
import { parseModelText } from "../../host/model/model.js";
import { generate } from "../../host/training/tasks.js";
import { Trainer } from "../../host/training/trainer.js";

const { values } = parseArgs({ options: { model: { type: "string" }, steps: { type: "string", default: "96" } } });
if (!values.model) throw new Error("--model M.json is required (a freq1-async model, e.g. one phasor train wrote)");
const steps = Number(values.steps);
if (!Number.isInteger(steps) || steps < 8 || steps % 8 !== 0) throw new Error(`--steps must be a whole multiple of 8, got ${values.steps}`);
const model = parseModelText(readFileSync(values.model, "utf8"), values.model);
// how the model was trained: r_on and tau themselves in theta (the freq1 defaults); neither changes the speed
const layout = { trainROn: true, tauDirect: true };
const batch = 32;
const data = generate("freq1-async", 64 * batch, 2016);

const runs = await Promise.all(
  [false, true].map(async (skipClosed) => ({
    skipClosed,
    trainer: await Trainer.create(model, { batchSize: batch, maxLength: 125, simd: true, timeOrigin: "absolute", lr: 1e-9, skipClosed, ...layout }),
    next: 0,
    cpu: 0,
    wall: 0,
    computed: 0,
  })),
);
type Run = (typeof runs)[number];

function step(run: Run): number {
  run.trainer.loadBatch(data.slice(run.next * batch, (run.next + 1) * batch));
  run.next = (run.next + 1) % 64;
  run.trainer.lossAndGradient();
  const computed = run.trainer.unitsComputed();
  run.trainer.step();
  return computed;
}

for (const run of runs) for (let k = 0; k < 4; k++) step(run);
for (let slice = 0; slice < 8; slice++) {
  for (const run of runs) {
    const cpu = process.cpuUsage();
    const wall = performance.now();
    for (let k = 0; k < steps / 8; k++) run.computed += step(run);
    const used = process.cpuUsage(cpu);
    run.cpu += (used.user + used.system) / 1e6;
    run.wall += (performance.now() - wall) / 1000;
  }
}
console.log("| trainer | sequences/s (CPU time) | sequences/s (wall) | (event, unit) pairs computed |");
console.log("| --- | ---: | ---: | ---: |");
for (const run of runs) {
  const sequences = steps * batch;
  console.log(
    `| ${run.skipClosed ? "closed units skipped" : "every unit"} | ${Math.round(sequences / run.cpu).toLocaleString("en-US")} | ` +
      `${Math.round(sequences / run.wall).toLocaleString("en-US")} | ${(run.computed / steps).toFixed(4)} |`,
  );
}
