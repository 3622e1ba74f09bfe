// The shape of the streaming point's stream (H=110, I=1, r_on=0.05; host/bench.ts benchPoint) in the fixed engine's
// ticks: the units' periods and open windows against the events' gaps, and how many units are open per event, with
// the phase in float64 ((t - shift) mod tau) / tau: close enough for counts (the engines' exact phase differs from it
// by far less than one tick). For the dense-gate prototype's report (branch wt-dense).
//   npx tsx tools/experiments/dense-gate-stream-shape.ts
import "../../host/node.js";
import { benchPoint } from "../../host/bench.js";

const point = benchPoint({ hidden: 110, input: 1, rOn: 0.05 });
const ticksLog2 = point.quantized.plan.ticksLog2;
const ticksPerUnit = 2 ** ticksLog2;
const L = point.quantized.file.model.layers[0];
const H = L.hiddenSize;
const tau = Array.from(L.tau as ArrayLike<number>);
const shift = Array.from(L.shift as ArrayLike<number>);
const rOn = Array.from(L.rOn as ArrayLike<number>);
const t = point.stream.t;
const q = (v: number[], p: number) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(p * v.length))];
const fmt = (v: number[]) => `min ${Math.min(...v).toFixed(0)}, p10 ${q(v, 0.1).toFixed(0)}, median ${q(v, 0.5).toFixed(0)}, p90 ${q(v, 0.9).toFixed(0)}, max ${Math.max(...v).toFixed(0)}`;

console.log(`ticksLog2 ${ticksLog2}: ${ticksPerUnit} ticks per time unit (ms); ${H} units, ${t.length} events a block`);
const periods = tau.map((x) => x * ticksPerUnit);
const windows = tau.map((x, j) => x * rOn[j] * ticksPerUnit);
console.log(`periods (ticks): ${fmt(periods)}  (log2 ${Math.log2(Math.min(...periods)).toFixed(1)}..${Math.log2(Math.max(...periods)).toFixed(1)})`);
console.log(`open windows (ticks): ${fmt(windows)}`);
const gaps: number[] = [];
for (let e = 1; e < t.length; e++) gaps.push((t[e] - t[e - 1]) * ticksPerUnit);
console.log(`event gaps (ticks): ${fmt(gaps)}, mean ${(gaps.reduce((a, b) => a + b, 0) / gaps.length).toFixed(0)}`);
console.log(`block span ${(point.stream.span * ticksPerUnit).toExponential(3)} ticks (2^${Math.log2(point.stream.span * ticksPerUnit).toFixed(2)})`);
const meanGap = gaps.reduce((a, b) => a + b, 0) / gaps.length;
console.log(`mean gap / period per unit: ${fmt(periods.map((p) => (1000 * meanGap) / p))} (x1000)`);
console.log(`units whose window is shorter than the mean gap: ${windows.filter((w) => w < meanGap).length} of ${H}`);

// per event: open units, and units with a window start since the last event (what a wake-key schedule has to look at)
const openCounts: number[] = [];
const startedCounts: number[] = [];
const startedAndClosed: number[] = [];
let openSum = 0;
for (let e = 0; e < t.length; e++) {
  let open = 0;
  let started = 0;
  let passed = 0;
  for (let j = 0; j < H; j++) {
    const cycles = (t[e] - shift[j]) / tau[j];
    const phi = cycles - Math.floor(cycles);
    const isOpen = phi < rOn[j];
    if (isOpen) open++;
    if (e > 0) {
      const before = (t[e - 1] - shift[j]) / tau[j];
      if (Math.floor(cycles) > Math.floor(before)) {
        started++;
        if (!isOpen) passed++;
      }
    }
  }
  openCounts.push(open);
  openSum += open;
  if (e > 0) {
    startedCounts.push(started);
    startedAndClosed.push(passed);
  }
}
const hist = new Map<number, number>();
for (const c of openCounts) hist.set(c, (hist.get(c) ?? 0) + 1);
console.log(`open units per event: mean ${(openSum / t.length).toFixed(2)} (${((100 * openSum) / t.length / H).toFixed(2)} % of ${H}), ${fmt(openCounts)}`);
console.log(`  histogram: ${[...hist.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(" ")}`);
const mean = (v: number[]) => (v.reduce((a, b) => a + b, 0) / v.length).toFixed(2);
console.log(`units whose window began since the last event: mean ${mean(startedCounts)}; of them closed again by the event: mean ${mean(startedAndClosed)}`);
