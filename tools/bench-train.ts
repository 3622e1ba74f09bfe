// Training throughput of the on-device trainer on freq1-async batches (tasks.md): the paper's model (1 layer of
// 110 units, 1 input, 2 classes), batch 32, 15 to 125 events per sequence at sorted uniform times in [0, 125].
// One thread; a step is loadBatch + lossAndGradient + step (Adam). Prints sequences per second for both builds.
//   npx tsx tools/bench-train.ts [batches]
import "../host/node.js";
import { generate } from "../host/tasks.js";
import { Trainer, initialModel, taskModelSpec } from "../host/trainer.js";

const batches = Number(process.argv[2] ?? 50);
const batchSize = 32;
const data = generate("freq1-async", batches * batchSize, 1);
const events = data.reduce((sum, sample) => sum + sample.t.length, 0);
for (const simd of [true, false]) {
  const trainer = await Trainer.create(initialModel(taskModelSpec("freq1-async"), 1), { batchSize, maxLength: 125, simd });
  const runBatch = (k: number) => {
    trainer.loadBatch(data.slice(k * batchSize, (k + 1) * batchSize));
    trainer.lossAndGradient();
    trainer.step();
  };
  for (let k = 0; k < 3; k++) runBatch(k); // warm-up: wasm tier-up
  const start = performance.now();
  for (let k = 0; k < batches; k++) runBatch(k);
  const seconds = (performance.now() - start) / 1000;
  console.log(
    `${simd ? "simd  " : "scalar"}: ${((batches * batchSize) / seconds).toFixed(0)} sequences/s ` +
      `(${((1000 * seconds) / batches).toFixed(1)} ms per batch of ${batchSize}, ${(events / seconds / 1000).toFixed(0)}k events/s)`,
  );
}
