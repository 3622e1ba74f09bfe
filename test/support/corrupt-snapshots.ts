/**
 * Run as a child process by test/damaged-snapshots-never-hang.test.ts: restores snapshots damaged at every 8-byte
 * word (to i64 min, i64 max, -1 and a large positive value) into fixed and float streams, and pushes events into
 * every stream that accepted one. A restore check that lets through a state the event path cannot handle shows
 * up as this process hanging (the test's timeout) or crashing. Prints one JSON summary line.
 */
import "../../host/node.js";
import { createEngine } from "../../host/engine/create.js";
import { quantize } from "../../host/model/quantize.js";
import { Rng, randomModel, randomStream } from "./random.js";

const rng = new Rng(77);
const model = randomModel(rng, { inputSize: 3, hidden: [9, 5], peephole: true, rOn: 0.1, outputs: 2, mode: "every" });
const data = randomStream(rng, { n: 300, inputSize: 3, minGap: 0.01, maxGap: 5 });
const q = quantize(model, [data]);
const summary: Record<string, { words: number; accepted: number; rejected: number }> = {};
for (const kind of ["fixed", "float"] as const) {
  const engine = await createEngine(kind === "fixed" ? { format: "plsm", model: q.file.model, plsm: q.file, source: "q" } : model, { engine: kind });
  const stream = engine.createStream();
  stream.pushBatch(data.t.subarray(0, 200), data.x.subarray(0, 600));
  const good = stream.snapshot();
  const view = new DataView(good.buffer, good.byteOffset, good.byteLength);
  let accepted = 0;
  let rejected = 0;
  for (let at = 0; at + 8 <= good.length; at += 8) {
    for (const value of [-(2n ** 63n), 2n ** 63n - 1n, -1n, 1n << 40n]) {
      const damaged = good.slice();
      new DataView(damaged.buffer).setBigInt64(at, value, true);
      if (view.getBigInt64(at, true) === value) continue;
      const target = engine.createStream();
      try {
        target.restore(damaged);
      } catch {
        rejected++;
        target.dispose();
        continue;
      }
      accepted++;
      for (let e = 200; e < 203; e++) {
        try {
          target.push(data.t[e], data.x.subarray(3 * e, 3 * e + 3));
        } catch {
          // a damaged time origin may make an event invalid: refused is fine, hanging is not
        }
      }
      target.dispose();
    }
  }
  summary[kind] = { words: good.length / 8, accepted, rejected };
}
console.log(JSON.stringify(summary));
