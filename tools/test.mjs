// `npm test`: type-check everything (sources and tests), then the vitest suites, then one plain
// 'N passed, N failed' line that CI reads (vitest's own summary is not in that form). The exit status is
// the type check's when it fails, vitest's otherwise.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";

const typecheck = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.test.json"], { stdio: "inherit" });
if (typecheck.status !== 0) {
  console.error("type check failed (tsc -p tsconfig.test.json)");
  console.log("0 passed, 1 failed");
  process.exit(typecheck.status ?? 1);
}

const results = ".vitest-results.json";
rmSync(results, { force: true });
const run = spawnSync(
  process.execPath,
  ["node_modules/vitest/vitest.mjs", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${results}`, ...process.argv.slice(2)],
  { stdio: "inherit" },
);
let summary = "no test results were written";
try {
  const r = JSON.parse(readFileSync(results, "utf8"));
  summary = `${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : "");
} catch {
  // keep the message above: vitest did not get as far as writing its results
}
console.log(summary);
process.exit(run.status ?? 1);
