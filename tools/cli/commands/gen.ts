/**
 * `phasor gen`: a built-in task's labelled sequences as NDJSON events (formats.md, "Commands" and "Events"),
 * drawn by host/training/tasks.ts and streamed out sample by sample, so that n is limited by the disk, not by memory.
 */
import { PhasorError } from "../../../host/errors.js";
import { MAX_SEED } from "../../../host/rng.js";
import { TASK_NAMES, TASKS, samples } from "../../../host/training/tasks.js";
import { defineCommand } from "../command.js";
import { LineWriter } from "../io.js";

export const command = defineCommand({
  usage: "--task T --n N --seed S",
  description:
    "Writes n labelled sequences of a built-in task (docs/tasks.md) as NDJSON events on stdout, one line\n" +
    'per event: {"t","x","seq","label"}, seq the sample\'s index from 0 and label, on every event of the sequence,\n' +
    "its class (0 or 1) or, for adding, its target. Numbers are printed at full precision; the same task, n and\n" +
    "seed always give the same bytes, and the first n samples of a seed are the same whatever n.",
  flags: {
    task: { kind: "enum", values: TASK_NAMES, help: "the task" },
    n: { kind: "number", integer: true, min: 1, value: "N", help: "how many sequences" },
    seed: { kind: "number", integer: true, min: 0, value: "S", help: `the seed, an integer in [0, ${MAX_SEED}]` },
  },

  async run(flags, io) {
    const { task, n, seed } = flags;
    if (task === undefined) throw badArgs(`missing --task T (one of ${TASK_NAMES.join(", ")})`);
    if (n === undefined) throw badArgs("missing --n N (an integer >= 1)");
    if (seed === undefined) throw badArgs(`missing --seed S (an integer in [0, ${MAX_SEED}])`);
    if (seed > MAX_SEED) throw badArgs(`--seed must be an integer in [0, ${MAX_SEED}] (got "${seed}")`);

    const inputSize = TASKS[task].inputSize;
    const out = new LineWriter(io.stdout);
    const stream = samples(task, seed);
    for (let seq = 0; seq < n; seq++) {
      const { t, x, label } = stream.next().value;
      const tail = `],"seq":${seq},"label":${label}}`;
      for (let e = 0; e < t.length; e++) {
        let values = String(x[e * inputSize]);
        for (let k = 1; k < inputSize; k++) values += "," + x[e * inputSize + k];
        out.line(`{"t":${t[e]},"x":[${values}${tail}`);
      }
      await out.flushIfFull();
    }
    await out.flush();
  },
});

function badArgs(message: string): PhasorError {
  return new PhasorError("bad-args", message);
}
