// Where a freq1 model's errors are: accuracy on freshly drawn sequences of a task, split by the number of events, by
// the duration, and by how close the period is to the positive band [5, 6] ms. The draws of host/training/tasks.ts keep
// each sequence's period and duration, so nothing has to be guessed from the events.
//   npx tsx tools/experiments/error-breakdown.ts --model m.json --task freq1-async --n 3000 --seed 4243
// Prints a markdown table. The float wasm engine scores the sequences, as `phasor eval --engine float` does.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import "../../host/node.js";
import { createEngine } from "../../host/engine/create.js";
import { argmax } from "../../host/engine/evaluate.js";
import { parseModelText } from "../../host/model/model.js";
import { generate, type Freq1Draws, type TaskName } from "../../host/training/tasks.js";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    task: { type: "string", default: "freq1-async" },
    n: { type: "string", default: "3000" },
    seed: { type: "string", default: "4243" },
  },
});
if (!values.model) throw new Error("--model M.json is required");
const task = values.task as TaskName;
if (!task.startsWith("freq1")) throw new Error(`--task must be a freq1 task (its draws have one period), got ${task}`);
const model = parseModelText(readFileSync(values.model, "utf8"), values.model);
const engine = await createEngine(model, { engine: "float" });
const samples = generate(task, Number(values.n), Number(values.seed));

/** [correct, total] per bucket, buckets in their natural order (made up front, empty ones dropped) */
const splits = new Map<string, Map<string, [number, number]>>();
const bands = (edges: number[], unit: string) => [`< ${edges[0]} ${unit}`, ...edges.slice(1).map((e, k) => `${edges[k]}-${e} ${unit}`), `>= ${edges.at(-1)} ${unit}`];
for (const [split, buckets] of [
  ["all", ["all"]],
  ["events", bands([40, 80], "events")],
  ["duration", bands([40, 80], "ms")],
  ["period", ["positive, 5-6 ms", "negative, 4-7 ms", "negative, other"]],
] as const) {
  splits.set(split, new Map(buckets.map((b) => [b, [0, 0] as [number, number]])));
}
const count = (split: string, bucket: string, correct: boolean) => {
  const buckets = splits.get(split) ?? new Map<string, [number, number]>();
  splits.set(split, buckets);
  const c = buckets.get(bucket) ?? [0, 0];
  c[0] += correct ? 1 : 0;
  c[1]++;
  buckets.set(bucket, c);
};
/** the bucket of x among bands(edges, unit) */
const band = (x: number, edges: number[], unit: string) => {
  const k = edges.findIndex((e) => x < e);
  return bands(edges, unit)[k < 0 ? edges.length : k];
};

const stream = engine.createStream();
for (const s of samples) {
  stream.reset();
  const n = s.t.length;
  for (let e = 0; e < n; e++) stream.push(s.t[e], s.x.subarray(e * model.inputSize, (e + 1) * model.inputSize));
  const correct = argmax(stream.output()) === s.label;
  const draws = s.draws as Freq1Draws;
  const T = draws.period;
  count("all", "all", correct);
  count("events", band(n, [40, 80], "events"), correct);
  count("duration", band(draws.durationMs, [40, 80], "ms"), correct);
  count("period", T >= 5 && T <= 6 ? "positive, 5-6 ms" : T > 4 && T < 7 ? "negative, 4-7 ms" : "negative, other", correct);
}
console.log(`| split | bucket | sequences | accuracy |`);
console.log(`| --- | --- | ---: | ---: |`);
for (const [split, buckets] of splits) {
  const ordered = [...buckets];
  for (const [bucket, [ok, total]] of ordered) if (total > 0) console.log(`| ${split} | ${bucket} | ${total} | ${((100 * ok) / total).toFixed(1)} % |`);
}
