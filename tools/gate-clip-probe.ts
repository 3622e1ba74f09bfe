// Does clipping the gradient at the gate pre-activations to +-10 (the authors' setting, plstm.md section 5) ever act
// on freq1? On fresh batches, at the initial model of a checkpoint's seed and at the checkpoint's parameters, the
// gradient with the clip against the plain one: how many batches change at all, and the largest relative change.
//   npx tsx tools/gate-clip-probe.ts --checkpoint res/m.checkpoint.json --batches 40
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import "../host/node.js";
import { generate } from "../host/tasks.js";
import { Trainer, initialModel, taskModelSpec } from "../host/trainer.js";
import type { TrainSettings } from "../host/training.js";

const { values } = parseArgs({ options: { checkpoint: { type: "string" }, batches: { type: "string", default: "40" }, clip: { type: "string", default: "10" } } });
const raw = JSON.parse(readFileSync(values.checkpoint!, "utf8"));
const settings = raw.settings as TrainSettings;
const bytes = Buffer.from(raw.trainer.theta, "base64");
const trained = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
const model = initialModel({ ...taskModelSpec(settings.task), rOn: settings.rOn, weightInit: settings.weightInit }, settings.seed);
const batches = Number(values.batches);
const data = generate(settings.task, 32 * batches, 4242);
const trainer = (gateClip: number) =>
  Trainer.create(model, { batchSize: 32, maxLength: 1251, trainROn: settings.trainROn, tauDirect: settings.tauDirect, gateClip, timeOrigin: "absolute" });
for (const [name, point] of [["initial", null], ["checkpoint", trained]] as const) {
  const plain = await trainer(0);
  const clipped = await trainer(Number(values.clip));
  if (point) {
    plain.setParameters(point);
    clipped.setParameters(point);
  }
  let changed = 0;
  let largest = 0;
  for (let b = 0; b < batches; b++) {
    const batch = data.slice(32 * b, 32 * (b + 1));
    plain.loadBatch(batch);
    clipped.loadBatch(batch);
    plain.lossAndGradient();
    clipped.lossAndGradient();
    const g0 = plain.gradient();
    const g1 = clipped.gradient();
    let difference = 0;
    let norm = 0;
    for (let k = 0; k < g0.length; k++) {
      difference += (g0[k] - g1[k]) ** 2;
      norm += g0[k] ** 2;
    }
    if (difference > 0) changed++;
    largest = Math.max(largest, Math.sqrt(difference / norm));
  }
  console.log(JSON.stringify({ point: name, batches, changed, largestRelativeChange: largest }));
}
