// The main job on a busy machine (issue 14 part 2): `phasor start` beside a busy loop that takes one core, once per
// thread count, one after the other while the same loop runs, so that the runs share its conditions.
//   npm run build && npx tsx tools/experiments/main-job-beside-a-busy-loop.ts --threads 1,2 [--busy 1] [--out DIR]
// Prints a markdown table: epochs, training seconds, the whole job's wall time, and the fixed-point accuracy on the
// fresh sequences with the job's own verdict. --busy 0 runs on the machine as it is. Each job takes about 3 minutes
// (--seconds S passes another training budget to it).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "1,2" },
    busy: { type: "string", default: "1" },
    out: { type: "string" },
    seconds: { type: "string" },
  },
});
const counts = values.threads.split(",").map(Number);
if (!counts.every((n) => Number.isInteger(n) && n >= 1)) throw new Error(`--threads must be whole numbers from 1, comma-separated, got ${values.threads}`);
const out = values.out ?? mkdtempSync(join(tmpdir(), "phasor-busy-"));
const loops = Array.from({ length: Number(values.busy) }, () => spawn(process.execPath, ["-e", "for (;;);"], { stdio: "ignore" }));

const rows: string[] = [];
try {
  for (const threads of counts) {
    const started = performance.now();
    const job = spawnSync(process.execPath, ["dist/tools/cli/phasor.js", "start", "--threads", String(threads), "--out", out, ...(values.seconds ? ["--seconds", values.seconds] : [])], { encoding: "utf8" });
    const wall = (performance.now() - started) / 1000;
    if (job.status !== 0) throw new Error(`phasor start --threads ${threads} failed (status ${job.status}): ${job.stderr}`);
    const trained = /trained (\d+) epochs in ([0-9.]+) s on (\d+) threads?/.exec(job.stdout);
    const verdict = /^(reached|FELL SHORT of) the 97 % goal: the fixed-point model scored ([0-9.]+) %/m.exec(job.stdout);
    if (!trained || !verdict) throw new Error(`phasor start --threads ${threads}: unexpected output:\n${job.stdout}`);
    rows.push(`| ${trained[3]} | ${values.busy} | ${trained[1]} | ${trained[2]} | ${wall.toFixed(1)} | ${verdict[2]} % | ${verdict[1] === "reached" ? "reached" : "fell short"} |`);
  }
} finally {
  for (const loop of loops) loop.kill();
}
console.log("| threads | busy loops | epochs | training s | job s | fixed-point accuracy, fresh | 97 % |");
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | --- |");
for (const row of rows) console.log(row);
console.log(`(runs in ${out})`);
