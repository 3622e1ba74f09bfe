// Self time by function of a .cpuprofile (node --cpu-prof), the largest first: node tools/experiments/dense-gate-profile-summary.mjs FILE
import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync(process.argv[2], "utf8"));
const self = new Map();
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
let total = 0;
for (const [id, t] of dt) {
  const name = byId.get(id).callFrame.functionName || "(anonymous)";
  self.set(name, (self.get(name) ?? 0) + t);
  total += t;
}
for (const [name, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`${((100 * t) / total).toFixed(1).padStart(5)} %  ${(t / 1000).toFixed(0).padStart(6)} ms  ${name}`);
