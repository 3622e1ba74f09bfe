// The SIMD build's time gate (fixed/step.ts: the dense scan or the wheel, gateIsDense) against this checkout's
// scalar build (the wake-key wheel) and another checkout's SIMD build (main): y and h after every event, compared
// bit for bit, and the units updated per event (stats), on the streaming point's model and stream and on random
// models and streams (layer sizes around the 4-lane groups and 64-unit words, r_on up to 1, periods from under a
// tick's worth of events to over 2^32 ticks, gaps from 0 to years, int8 weights).
//   npx tsx tools/experiments/dense-gate-bits.ts --other /work/main [--random 60]
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import "../../host/node.js";
import { benchPoint } from "../../host/bench.js";
import { createEngine } from "../../host/engine/create.js";
import type { Engine } from "../../host/engine/engine.js";
import { randomModel } from "../../host/model/init.js";
import { quantize } from "../../host/model/quantize.js";
import { Rng } from "../../host/rng.js";

const { values } = parseArgs({ options: { other: { type: "string" }, random: { type: "string", default: "60" } } });
if (!values.other) throw new Error("--other PATH is required");
await import(`${values.other}/dist/host/node.js`);
const otherCreate = ["engine/create.js", "create.js"].map((at) => `${values.other}/dist/host/${at}`).find((at) => existsSync(at))!;
const other: { createEngine: typeof createEngine } = await import(otherCreate);

type File = Parameters<typeof createEngine>[0];
interface Run { y: Float64Array; h: Float64Array; updates: number[]; lower: number[] }

/** y, h after every event and the units updated at every event (per-event pushes in chunks, stats between). */
function run(engine: Engine, t: Float64Array, x: Float32Array, perEvent: boolean): Run {
  const s = engine.createStream();
  const n = t.length;
  const I = s.inputSize;
  const y = new Float64Array(n * s.outputSize);
  const h = new Float64Array(n * s.hiddenSize);
  const updates: number[] = [];
  const lower: number[] = [];
  if (perEvent) {
    let before = 0;
    for (let e = 0; e < n; e++) {
      s.pushBatch(t.subarray(e, e + 1), x.subarray(e * I, (e + 1) * I), y.subarray(e * s.outputSize, (e + 1) * s.outputSize), h.subarray(e * s.hiddenSize, (e + 1) * s.hiddenSize));
      const now = s.stats().unitUpdates;
      updates.push(now - before);
      before = now;
    }
    lower.push(...s.hidden(0), ...s.cell(0));
  } else {
    s.pushBatch(t, x, y, h);
    updates.push(s.stats().unitUpdates);
  }
  s.dispose();
  return { y, h, updates, lower };
}

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  const va = new DataView(new Float64Array(a).buffer);
  const vb = new DataView(new Float64Array(b).buffer);
  for (let i = 0; i < a.length; i++) if (va.getBigUint64(i * 8) !== vb.getBigUint64(i * 8)) return i;
  return -1;
}

let failures = 0;
async function compare(name: string, file: File, t: Float64Array, x: Float32Array, perEvent: boolean): Promise<number> {
  const dense = run(await createEngine(file, { engine: "fixed", simd: "on" }), t, x, perEvent);
  const wheel = run(await createEngine(file, { engine: "fixed", simd: "off" }), t, x, perEvent);
  const main = run(await other.createEngine(file as never, { engine: "fixed", simd: "on" }), t, x, perEvent);
  const problems: string[] = [];
  for (const [label, r] of [["scalar (wheel)", wheel], ["other SIMD", main]] as const) {
    for (const key of ["y", "h", "updates", "lower"] as const) {
      const d = firstDifference(dense[key], r[key]);
      if (d !== -1) problems.push(`${key} differs from ${label} at ${d}`);
    }
  }
  const total = perEvent ? dense.updates.reduce((a, b) => a + b, 0) : dense.updates[0];
  if (problems.length) {
    failures++;
    console.log(`FAIL ${name}: ${problems.join("; ")}`);
  }
  return total;
}

// 1. the streaming point: its model and 4 blocks of its stream (times shifted block by block, as the bench runs it)
{
  const point = benchPoint({ hidden: 110, input: 1, rOn: 0.05 });
  const file = { format: "plsm" as const, model: point.quantized.file.model, plsm: point.quantized.file, source: "bench" };
  const events = point.stream.t.length;
  const blocks = 4;
  const t = new Float64Array(events * blocks);
  const x = new Float32Array(events * blocks);
  for (let b = 0; b < blocks; b++) for (let e = 0; e < events; e++) {
    t[b * events + e] = point.stream.t[e] + b * point.stream.span;
    x[b * events + e] = point.stream.x[e];
  }
  const updates = await compare("bench point, 4 blocks", file, t, x, false);
  console.log(`bench point: ${t.length} events, ${updates} unit updates (${(updates / t.length).toFixed(3)} a event), y and h after every event compared`);
  const first = await compare("bench point, first 20000 events one at a time", file, t.subarray(0, 20000), x.subarray(0, 20000), true);
  console.log(`bench point, per event: 20000 events, ${first} unit updates, units updated per event compared`);
}

// 2. random models and streams
const rng = new Rng(7);
const SIZES = [[1], [3], [4], [5], [8], [63], [64], [65], [110], [127], [128], [129], [200], [20, 37], [64, 65, 9]];
const R_ON = [0.01, 0.05, 0.2, 0.5, 1];
const TAUS: [number, number][] = [[Math.E, Math.E ** 3], [0.5, 4], [0.01, 1000], [50, 5000], [1e-3, 1e6]];
const count = Number(values.random);
let events = 0;
let updates = 0;
for (let k = 0; k < count; k++) {
  const hidden = SIZES[k % SIZES.length];
  const rOn = R_ON[rng.int(R_ON.length)];
  const tauRange = TAUS[rng.int(TAUS.length)];
  const inputSize = 1 + rng.int(4);
  const model = randomModel(rng, { inputSize, hidden, peephole: rng.next() < 0.7, rOn, outputs: 1 + rng.int(3), mode: "last", tauRange, shiftMax: tauRange[1] });
  const n = 1500 + rng.int(1500);
  const t = new Float64Array(n);
  const x = new Float32Array(n * inputSize);
  // epoch-millisecond starts for some; gaps: mostly around the periods, some zero, some far longer (T's high word)
  let now = rng.next() < 0.5 ? 1.7e12 + rng.uniform(0, 1e9) : rng.uniform(0, 10);
  const scale = Math.sqrt(tauRange[0] * tauRange[1]);
  for (let e = 0; e < n; e++) {
    const u = rng.next();
    now += u < 0.1 ? 0 : u < 0.97 ? rng.logUniform(scale * 1e-3, scale * 3) : rng.logUniform(scale, scale * 1e5);
    t[e] = now;
    for (let i = 0; i < inputSize; i++) x[e * inputSize + i] = rng.uniform(-2, 2);
  }
  const weights = rng.next() < 0.25 ? "int8" : "int16";
  let q;
  try {
    q = quantize(model, [{ t: t.subarray(0, 512), x: x.subarray(0, 512 * inputSize) }], `random ${k}`, weights);
  } catch (error) {
    console.log(`random ${k}: not quantized (${(error as Error).message.slice(0, 100)}), skipped`);
    continue;
  }
  const file = { format: "plsm" as const, model: q.file.model, plsm: q.file, source: `random ${k}` };
  try {
    updates += await compare(`random ${k} H=[${hidden}] r_on=${rOn} tau=${tauRange} ${weights}`, file, t, x, true);
    events += n;
  } catch (error) {
    console.log(`random ${k}: ${(error as Error).message.slice(0, 160)}`);
  }
}
console.log(`random models: ${events} events, ${updates} unit updates, compared event by event`);
console.log(failures === 0 ? "all agree" : `${failures} FAILED`);
