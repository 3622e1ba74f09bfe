// Where a build's operators go on a model of your own: the counting of `phasor bench --operators`
// (host/engine/operators.ts, wasmtime's fuel rules) on any .plsm and NDJSON events (run as one stream, as
// tools/devices/fuel.py runs them), per event and by function, the largest first.
//   npx tsx tools/experiments/operators-by-function.ts --module build/phasor-scalar.wasm --model m.plsm --events e.ndjson [--warm 500] [--events-counted 2000]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { countPushOperators, functionNames } from "../../host/engine/operators.js";

const { values } = parseArgs({
  options: { module: { type: "string" }, model: { type: "string" }, events: { type: "string" }, warm: { type: "string", default: "500" }, "events-counted": { type: "string", default: "2000" } },
});
if (!values.module || !values.model || !values.events) throw new Error("--module, --model and --events are required");
const warm = Number(values.warm);
const counted = Number(values["events-counted"]);
const events = readFileSync(values.events, "utf8").trim().split("\n").slice(0, warm + counted).map((line) => JSON.parse(line) as { t: number; x: number[] });
const inputSize = events[0].x.length;
const module = readFileSync(values.module);
const names = functionNames(readFileSync(values.module.replace(/\.wasm$/, ".wat"), "utf8"));
const count = await countPushOperators(module, readFileSync(values.model), events.map((e) => e.t), events.flatMap((e) => e.x), inputSize, warm);
const n = events.length - warm;
const byFunction = [...count.byFunction.entries()].sort((a, b) => b[1] - a[1]).map(([index, ops]) => ({ function: names[index], perEvent: ops / n }));
console.log(JSON.stringify({ events: n, perEvent: count.perEvent.reduce((a, b) => a + b, 0) / n, openUnits: count.unitUpdates === undefined ? null : count.unitUpdates / n, byFunction: byFunction.slice(0, 12) }));
