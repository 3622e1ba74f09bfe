/**
 * `phasor bench`: in-process throughput of every engine (formats.md, "Commands"), as a table or, with --json,
 * one JSON array. The measurement itself is host/bench.ts.
 */
import { runBench, runTrainBench, type BenchResult } from "../../../host/bench.js";
import { defineCommand } from "../command.js";

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

export const command = defineCommand({
  usage: "[--json] [--seconds S]",
  description: "Measures the throughput of every engine in one process (after warm-up) and prints a table.",
  flags: {
    json: { kind: "boolean", help: "print one JSON array instead of a table" },
    seconds: { kind: "number", help: "measure each engine and configuration for at least this long (default 1)", min: 0.05, default: 1 },
  },
  async run(flags, io) {
    if (!flags.json) {
      io.stdout.write(["engine".padEnd(9), "build".padEnd(6), "model".padEnd(32), "events/s".padStart(12), "us/event".padStart(10), "open".padStart(8)].join("  ") + "\n");
    }
    const results = await runBench({
      seconds: flags.seconds,
      onResult: (r) => {
        if (!flags.json) io.stdout.write(row(r) + "\n");
      },
    });
    const training = await runTrainBench({ seconds: flags.seconds });
    if (!flags.json) {
      io.stdout.write("\ntraining (freq1-async, H=110, r_on=0.05, batch 32, Adam; the rows take turns)\n");
      for (const r of training) {
        const one = training.find((o) => o.simd === r.simd && o.threads === 1);
        const ratio = r.threads > 1 && one ? ` (${(r.sequencesPerSec / one.sequencesPerSec).toFixed(2)}x one thread)` : "";
        io.stdout.write(
          `trainer    ${(r.simd ? "simd" : "scalar").padEnd(6)}  ${`${r.threads} thread${r.threads > 1 ? "s" : ""}`.padEnd(10)}` +
            `${Math.round(r.sequencesPerSec).toLocaleString("en-US").padStart(8)} sequences/s  ${Math.round(r.eventsPerSec).toLocaleString("en-US").padStart(10)} events/s${ratio}\n`,
        );
      }
    }
    if (flags.json) io.stdout.write(JSON.stringify([...results, ...training]) + "\n");
  },
});
