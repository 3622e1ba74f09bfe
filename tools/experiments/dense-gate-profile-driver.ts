// One checkout's fixed engine (SIMD build) on the streaming point's model and stream for a number of blocks, for a V8
// profile of where its time goes (branch wt-dense, the dense-gate prototype's report):
//   node --cpu-prof --cpu-prof-interval 100 --cpu-prof-dir DIR --import tsx tools/experiments/dense-gate-profile-driver.ts --checkout /work/main [--blocks 30]
import { parseArgs } from "node:util";
import { benchPoint } from "../../host/bench.js";

const { values } = parseArgs({ options: { checkout: { type: "string" }, blocks: { type: "string", default: "30" } } });
if (!values.checkout) throw new Error("--checkout PATH is required");
await import(`${values.checkout}/dist/host/node.js`);
const { createEngine } = await import(`${values.checkout}/dist/host/engine/create.js`);
const point = benchPoint({ hidden: 110, input: 1, rOn: 0.05 });
const file = { format: "plsm" as const, model: point.quantized.file.model, plsm: point.quantized.file, source: "bench" };
const stream = (await createEngine(file, { engine: "fixed", simd: "on" })).createStream();
const shifted = new Float64Array(point.stream.t.length);
const start = performance.now();
for (let b = 0; b < Number(values.blocks); b++) {
  for (let e = 0; e < shifted.length; e++) shifted[e] = point.stream.t[e] + b * point.stream.span;
  stream.pushBatch(shifted, point.stream.x);
}
console.log(`${values.checkout}: ${((performance.now() - start) * 1e6 / (shifted.length * Number(values.blocks))).toFixed(1)} ns/event over ${values.blocks} blocks`);
