// `npm test`: compile host/, tools/cli/ and web/ into dist/ (the browser suites and the demo page load the compiled
// library, so it must be the current one), type-check the tests and the experiments (tools/experiments/), then run
// the node suites (vitest.config.ts) and the suites inside Chromium (vitest.browser.config.ts), and print one plain
// 'N passed, N failed' line over both that CI reads (vitest's own summary is not in that form). The exit status
// fails when any step fails; a run that failed without failing a test (a setup error, such as Chromium missing)
// counts as one failed test.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";

const tsc = "node_modules/typescript/bin/tsc";
for (const [project, what] of [
  ["tsconfig.json", "compiling host/, tools/cli/ and web/ into dist/"],
  ["tsconfig.test.json", "type-checking the tests and the experiments"],
]) {
  const check = spawnSync(process.execPath, [tsc, "-p", project], { stdio: "inherit" });
  if (check.status !== 0) {
    console.error(`${what} failed (tsc -p ${project})`);
    console.log("0 passed, 1 failed");
    process.exit(check.status ?? 1);
  }
}

// Arguments after `npm test --` go to both runs; a filter may then match nothing in one of them.
const extra = process.argv.slice(2);
const runs = [
  { name: "node", config: "vitest.config.ts", results: ".vitest-results.json" },
  { name: "Chromium", config: "vitest.browser.config.ts", results: ".vitest-results-browser.json" },
];
let passed = 0;
let failed = 0;
let skipped = 0;
let status = 0;
for (const run of runs) {
  rmSync(run.results, { force: true });
  const result = spawnSync(
    process.execPath,
    ["node_modules/vitest/vitest.mjs", "run", "--config", run.config, "--reporter=default", "--reporter=json", `--outputFile.json=${run.results}`, ...(extra.length ? ["--passWithNoTests", ...extra] : [])],
    { stdio: "inherit" },
  );
  let counted = { passed: 0, failed: 0, skipped: 0 };
  try {
    const r = JSON.parse(readFileSync(run.results, "utf8"));
    counted = { passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests + (r.numTodoTests ?? 0) };
  } catch {
    console.error(`the ${run.name} suites wrote no results (see vitest's error above)`);
  }
  if (result.status !== 0) {
    status = result.status ?? 1;
    if (counted.failed === 0) counted.failed = 1;
  }
  passed += counted.passed;
  failed += counted.failed;
  skipped += counted.skipped;
}
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
process.exit(status);
