// The time gate of this checkout against another checkout's away from the streaming point (docs/RESULTS.md, "The
// time gate as a dense SIMD scan (session 16)"): the side-by-side method of streaming-side-by-side.ts (blocks of
// 65,536 events taken in turns, medians of wall and CPU ns per event) on models of host/bench.ts's kind (random,
// peepholes, 2 outputs) and its stream (gaps uniform on [0, 2] ms, inputs sines), with other sizes, r_on and periods
// (tau log-uniform on tauRange ms; the bench's is [e, e^3]). Points 8 to 18 are where the units due an event, mean
// gap times mean 1 / tau, pass the dense gate's threshold (assembly/fixed/step.ts, DENSE_DUE_FRACTION); 16 to 18 came
// after session 16's runs of the whole list (docs/RESULTS.md), for its threshold table only; 19 to 29 with session
// 17's threshold for layers of at most 128 units (DENSE_DUE_FRACTION_SMALL), between the periods of the others.
//   npx tsx tools/experiments/dense-gate-other-points.ts --other /work/main [--blocks 10] [--scalar] [--only 0,4,8]
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import "../../host/node.js";
import { createEngine } from "../../host/engine/create.js";
import type { Stream } from "../../host/engine/engine.js";
import { randomModel } from "../../host/model/init.js";
import { quantize } from "../../host/model/quantize.js";
import { Rng } from "../../host/rng.js";

const { values } = parseArgs({ options: { other: { type: "string" }, blocks: { type: "string", default: "10" }, scalar: { type: "boolean", default: false }, only: { type: "string" } } });
if (!values.other) throw new Error("--other PATH is required");
const blocks = Number(values.blocks);
const simd = values.scalar ? "off" : "on";
await import(`${values.other}/dist/host/node.js`);
const otherCreate = ["engine/create.js", "create.js"].map((at) => `${values.other}/dist/host/${at}`).find((at) => existsSync(at))!;
const other: { createEngine: typeof createEngine } = await import(otherCreate);

interface Point { hidden: number; input: number; rOn: number; tauRange: [number, number] }
const E = Math.E;
/** A point of H units, r_on, and periods log-uniform on [m e, m e^3] time units (the bench's periods times m). */
const point = (hidden: number, rOn: number, m: number, input = 1): Point => ({ hidden, input, rOn, tauRange: [m * E, m * E ** 3] });
const POINTS: Point[] = [
  point(110, 0.05, 1),
  point(110, 1, 1),
  point(64, 0.05, 1, 64),
  point(32, 0.05, 1),
  point(512, 0.05, 1),
  point(110, 0.05, 10),
  point(110, 0.05, 100),
  point(110, 0.01, 10),
  point(110, 0.05, 2),
  point(110, 0.05, 3),
  point(110, 0.05, 5),
  point(512, 0.05, 1.5),
  point(512, 0.05, 2),
  point(110, 0.01, 1.5),
  point(110, 0.01, 2),
  point(110, 0.01, 3),
  point(512, 0.05, 3),
  point(32, 0.05, 3),
  point(110, 0.01, 1),
  point(110, 0.05, 2.5),
  point(110, 0.05, 4),
  point(32, 0.05, 2),
  point(32, 0.05, 4),
  point(64, 0.05, 2, 64),
  point(64, 0.05, 3, 64),
  point(110, 0.01, 2.5),
  point(32, 0.05, 5),
  point(64, 0.05, 4, 64),
  point(64, 0.05, 5, 64),
  point(128, 0.05, 5),
];
const BLOCK = 1 << 16;
const median = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1];

for (const [index, p] of POINTS.entries()) {
  if (values.only !== undefined && !values.only.split(",").includes(String(index))) continue;
  const rng = new Rng(2016);
  const model = randomModel(rng, { inputSize: p.input, hidden: [p.hidden], peephole: true, rOn: p.rOn, outputs: 2, mode: "last", tauRange: p.tauRange });
  const t = new Float64Array(BLOCK);
  const x = new Float32Array(BLOCK * p.input);
  let now = 0;
  for (let e = 0; e < BLOCK; e++) {
    now += rng.uniform(0, 2);
    t[e] = now;
    for (let i = 0; i < p.input; i++) x[e * p.input + i] = Math.sin((2 * Math.PI * now) / (3 + i));
  }
  const span = now + 1;
  const q = quantize(model, [{ t: t.subarray(0, 4096), x: x.subarray(0, 4096 * p.input) }], "points", "int16");
  const file = { format: "plsm" as const, model: q.file.model, plsm: q.file, source: "points" };
  const sides = [
    { name: "this", stream: (await createEngine(file, { engine: "fixed", simd })).createStream() },
    { name: "other", stream: (await other.createEngine(file as never, { engine: "fixed", simd })).createStream() },
  ].map((side) => ({ ...side, blocksRun: 0, wall: [] as number[], cpu: [] as number[] }));
  const shifted = new Float64Array(BLOCK);
  const runBlock = (side: { stream: Stream; blocksRun: number; wall: number[]; cpu: number[] }, record: boolean) => {
    for (let e = 0; e < BLOCK; e++) shifted[e] = t[e] + side.blocksRun * span;
    side.blocksRun++;
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    side.stream.pushBatch(shifted, x);
    const wall = performance.now() - wallBefore;
    const cpu = process.cpuUsage(cpuBefore);
    if (record) {
      side.wall.push((wall * 1e6) / BLOCK);
      side.cpu.push(((cpu.user + cpu.system) * 1e3) / BLOCK);
    }
  };
  for (let k = 0; k < 3; k++) for (const side of sides) runBlock(side, false);
  for (let k = 0; k < blocks; k++) for (const side of k % 2 === 0 ? sides : [...sides].reverse()) runBlock(side, true);
  const stats = sides[0].stream.stats();
  const [self, them] = sides;
  console.log(
    `H=${p.hidden} I=${p.input} r_on=${p.rOn} tau=[${p.tauRange.map((v) => v.toFixed(1)).join(", ")}] ms, ${simd === "on" ? "SIMD" : "scalar"}: ` +
      `open ${(stats.unitUpdates / stats.events).toFixed(2)}/event; this wall ${median(self.wall).toFixed(1)} CPU ${median(self.cpu).toFixed(1)} ns/event, ` +
      `other wall ${median(them.wall).toFixed(1)} CPU ${median(them.cpu).toFixed(1)}; this/other events/s wall ${(median(them.wall) / median(self.wall)).toFixed(3)}, CPU ${(median(them.cpu) / median(self.cpu)).toFixed(3)}`,
  );
  for (const side of sides) side.stream.dispose();
}
