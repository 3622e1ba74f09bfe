/**
 * `phasor bench`: in-process throughput of every engine (formats.md, "Commands"), as a table or, with --json,
 * one JSON array. The measurement itself is host/bench.ts. With --operators it counts wasm operators per event
 * instead of timing (issue 13, item 4): the same on every machine.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  OPERATOR_POINTS, runBench, runOperatorCount, runTrainBench, type BenchResult, type OperatorBuild, type OperatorResult,
} from "../../../host/bench.js";
import { functionNames } from "../../../host/engine/operators.js";
import { buildDirectory } from "../../../host/node.js";
import { PhasorError } from "../../../host/errors.js";
import { defineCommand, type CommandIO } from "../command.js";

const DEFAULT_SECONDS = 1;

function row(r: BenchResult): string {
  const config = `H=${r.hidden} I=${r.input}${r.nonzeroInputs !== undefined ? ` (${r.nonzeroInputs} nonzero)` : ""} r_on=${r.rOn}`;
  return [
    r.engine.padEnd(9),
    (r.engine === "reference" ? "-" : r.simd ? "simd" : "scalar").padEnd(6),
    config.padEnd(32),
    Math.round(r.eventsPerSec).toLocaleString("en-US").padStart(12),
    (1e6 / r.eventsPerSec).toFixed(3).padStart(10),
    r.unitUpdateFraction.toFixed(3).padStart(8),
  ].join("  ");
}

const whole = (n: number) => Math.round(n).toLocaleString("en-US");

/** The point's model as the tables name it: int8 where its gate matrices are. */
function modelName(r: OperatorResult): string {
  return `H=${r.hidden} I=${r.input} r_on=${r.rOn}${r.weights === "int8" ? " int8" : ""}`.padEnd(27);
}

function operatorRow(r: OperatorResult): string {
  const model = modelName(r);
  if (r.skipped) return `${r.build.padEnd(13)}  ${model}  ${r.skipped}`;
  return [
    r.build.padEnd(13),
    model,
    whole(r.operatorsPerEvent).padStart(11),
    r.openUnits.toFixed(2).padStart(7),
    whole(r.macsPerEvent).padStart(9),
    r.operatorsPerMac.toFixed(2).padStart(7),
  ].join("  ");
}

/** Where the operators of an event go, and the MACs' own operators per MAC. */
function sharesRow(r: OperatorResult): string | null {
  if (!r.shares) return null;
  const { macs, units, timeGates, event } = r.shares;
  return [
    r.build.padEnd(13),
    modelName(r),
    whole(macs).padStart(9),
    (macs / r.macsPerEvent).toFixed(2).padStart(7),
    whole(units).padStart(9),
    whole(units / r.openUnits).padStart(8),
    whole(timeGates).padStart(10),
    whole(event).padStart(7),
  ].join("  ");
}

async function countOperators(json: boolean, io: CommandIO): Promise<void> {
  const modules: Partial<Record<OperatorBuild, Uint8Array>> = {};
  const names: Partial<Record<OperatorBuild, string[]>> = {};
  for (const build of ["mcu", "mcu-int8", "mcu-int8-page", "scalar", "simd"] as OperatorBuild[]) {
    const file = join(buildDirectory(), `phasor-${build}`);
    modules[build] = readFileSync(`${file}.wasm`);
    // the text form names the functions, so that the operators can be told apart by where they go
    if (existsSync(`${file}.wat`)) names[build] = functionNames(readFileSync(`${file}.wat`, "utf8"));
  }
  if (!json) {
    io.stdout.write("wasm operators per event, counted as wasmtime's fuel counts them (2 outputs, peepholes; 500 events of warm-up, 2,000 counted)\n");
    io.stdout.write(["build".padEnd(13), "model".padEnd(27), "ops/event".padStart(11), "open".padStart(7), "MACs".padStart(9), "ops/MAC".padStart(7)].join("  ") + "\n");
  }
  const results = await runOperatorCount(modules, { points: OPERATOR_POINTS, names, onResult: (r) => json || io.stdout.write(operatorRow(r) + "\n") });
  if (json) {
    io.stdout.write(JSON.stringify(results) + "\n");
    return;
  }
  const shares = results.map(sharesRow).filter((line) => line !== null);
  if (shares.length === 0) return;
  io.stdout.write(
    "\nwhere they go, per event: the MACs (fixed/sums.ts: loads, multiplies, adds, their loops) and their operators per MAC; the open\n" +
      "units' gate arithmetic, in all and per open unit; the time gates of the units visited and the wheel; the rest of the event\n",
  );
  io.stdout.write(["build".padEnd(13), "model".padEnd(27), "MACs".padStart(9), "ops/MAC".padStart(7), "units".padStart(9), "per unit".padStart(8), "time gates".padStart(10), "event".padStart(7)].join("  ") + "\n");
  for (const line of shares) io.stdout.write(line + "\n");
}

export const command = defineCommand({
  usage: "[--json] [--seconds S] [--operators]",
  description:
    "Measures the throughput of every engine in one process (after warm-up) and prints a table. With --operators, counts instead the wasm " +
    "operators per event of the microcontroller builds (int16 and int8 weights, and int8 in one 64 KiB page) and of the library's scalar and SIMD builds (as wasmtime's fuel counts them: the same " +
    "on every machine), and per multiply-accumulate (4 (I + H) per open unit).",
  flags: {
    json: { kind: "boolean", help: "print one JSON array instead of a table" },
    // no default in the spec: --operators must know whether --seconds was given
    seconds: { kind: "number", help: `measure each engine and configuration for at least this long (default ${DEFAULT_SECONDS})`, min: 0.05 },
    operators: { kind: "boolean", help: "count wasm operators per event instead of timing" },
  },
  async run(flags, io) {
    if (flags.operators) {
      if (flags.seconds !== undefined) {
        throw new PhasorError("bad-args", "--seconds times the engines; --operators counts operators over a fixed number of events instead: give one of them");
      }
      return countOperators(flags.json, io);
    }
    const seconds = flags.seconds ?? DEFAULT_SECONDS;
    if (!flags.json) {
      io.stdout.write(["engine".padEnd(9), "build".padEnd(6), "model".padEnd(32), "events/s".padStart(12), "us/event".padStart(10), "open".padStart(8)].join("  ") + "\n");
    }
    const results = await runBench({
      seconds,
      onResult: (r) => {
        if (!flags.json) io.stdout.write(row(r) + "\n");
      },
    });
    const training = await runTrainBench({ seconds });
    if (!flags.json) {
      io.stdout.write("\ntraining (freq1-async, H=110, r_on=0.05, batch 32, Adam; the rows take turns)\n");
      for (const r of training) {
        const one = training.find((o) => o.simd === r.simd && o.threads === 1 && !o.skipClosed);
        const ratio = r.threads > 1 && one ? ` (${(r.sequencesPerSec / one.sequencesPerSec).toFixed(2)}x one thread)` : "";
        const skipped = r.skipClosed && one
          ? ` (closed units skipped, ${(100 * r.unitUpdateFraction).toFixed(1)} % of units computed: ${(r.sequencesPerSec / one.sequencesPerSec).toFixed(2)}x every unit)`
          : "";
        io.stdout.write(
          `trainer    ${(r.simd ? "simd" : "scalar").padEnd(6)}  ${`${r.threads} thread${r.threads > 1 ? "s" : ""}`.padEnd(10)}` +
            `${Math.round(r.sequencesPerSec).toLocaleString("en-US").padStart(8)} sequences/s  ${Math.round(r.eventsPerSec).toLocaleString("en-US").padStart(10)} events/s${ratio}${skipped}\n`,
        );
      }
    }
    if (flags.json) io.stdout.write(JSON.stringify([...results, ...training]) + "\n");
  },
});
