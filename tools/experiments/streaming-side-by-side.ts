// The streaming point of `phasor bench` (H=110, I=1, r_on=0.05, the fixed engine) on this checkout and on another
// one, side by side in one process: the bench's model, quantized as the bench quantizes it, and its stream, in blocks
// of 65,536 events that the two take in turns (A B, then B A, ...), so that a machine whose speed moves (other jobs
// on its two cores) moves both alike. Prints per checkout the median and the fastest block, in ns per event of wall
// time and of the process's CPU time (which leaves out the time other jobs took the core: the steadier of the two
// on a busy machine), and events/s of this checkout over the other's.
//   npm run build && npx tsx tools/experiments/streaming-side-by-side.ts --other /path/to/checkout [--blocks 20] [--scalar]
// The other checkout must be built too (its dist/ and build/).
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import "../../host/node.js";
import { benchPoint } from "../../host/bench.js";
import { createEngine } from "../../host/engine/create.js";
import type { Stream } from "../../host/engine/engine.js";

const { values } = parseArgs({ options: { other: { type: "string" }, blocks: { type: "string", default: "20" }, scalar: { type: "boolean", default: false } } });
if (!values.other) throw new Error("--other PATH is required: a built checkout of phasor to compare this one with");
const blocks = Number(values.blocks);
if (!Number.isInteger(blocks) || blocks < 2) throw new Error(`--blocks must be a whole number of at least 2, got ${values.blocks}`);
const simd = values.scalar ? "off" : "on";

const point = benchPoint({ hidden: 110, input: 1, rOn: 0.05 });
const file = { format: "plsm" as const, model: point.quantized.file.model, plsm: point.quantized.file, source: "bench" };
// its node entry first: it installs the reader of its own build/ folder
await import(`${values.other}/dist/host/node.js`);
// host/create.ts moved to host/engine/ with issue 12's folders: checkouts from before then have it at the top
const otherCreate = ["engine/create.js", "create.js"].map((at) => `${values.other}/dist/host/${at}`).find((at) => existsSync(at));
if (otherCreate === undefined) throw new Error(`${values.other}: no dist/host/engine/create.js or dist/host/create.js; build that checkout first`);
const other: { createEngine: typeof createEngine } = await import(otherCreate);
const sides = [
  { name: "this checkout", stream: (await createEngine(file, { engine: "fixed", simd })).createStream() },
  { name: values.other, stream: (await other.createEngine(file, { engine: "fixed", simd })).createStream() },
].map((side) => ({ ...side, blocksRun: 0, wall: [] as number[], cpu: [] as number[] }));

const events = point.stream.t.length;
const shifted = new Float64Array(events);
/** One block on a side's stream, its times moved past the blocks it already ran; its ns per event recorded. */
function runBlock(side: { stream: Stream; blocksRun: number; wall: number[]; cpu: number[] }, record: boolean): void {
  for (let e = 0; e < events; e++) shifted[e] = point.stream.t[e] + side.blocksRun * point.stream.span;
  side.blocksRun++;
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  side.stream.pushBatch(shifted, point.stream.x);
  const wall = performance.now() - wallBefore;
  const cpu = process.cpuUsage(cpuBefore);
  if (record) {
    side.wall.push((wall * 1e6) / events);
    side.cpu.push(((cpu.user + cpu.system) * 1e3) / events);
  }
}

for (let k = 0; k < 4; k++) for (const side of sides) runBlock(side, false); // warm-up: V8's optimizing tier
for (let k = 0; k < blocks; k++) for (const side of k % 2 === 0 ? sides : [...sides].reverse()) runBlock(side, true);

const median = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1];
console.log(`streaming point, H=110 I=1 r_on=0.05, fixed engine, ${simd === "on" ? "SIMD" : "scalar"} build, ${blocks} blocks of ${events} events each`);
for (const side of sides) {
  const f = (v: number[]) => `median ${median(v).toFixed(1)}, fastest ${Math.min(...v).toFixed(1)}`;
  console.log(`${side.name}: wall ${f(side.wall)} ns/event; CPU ${f(side.cpu)} ns/event`);
}
const [self, them] = sides;
console.log(`this checkout's events/s over the other's, by the medians: wall ${(median(them.wall) / median(self.wall)).toFixed(3)}, CPU ${(median(them.cpu) / median(self.cpu)).toFixed(3)}`);
