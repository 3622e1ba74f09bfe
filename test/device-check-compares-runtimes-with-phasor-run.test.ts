/**
 * The device check (`npm run check:devices`, test/support/device-check.ts) passes a runtime only when it prints
 * phasor run's bytes, message and exit status in every case, and in the learning cases the library's outputs and
 * readout bytes, and says which case and line differ otherwise.
 * Held here to stand-in runtimes with iwasm's command line: one faithful (the WASI command under node:wasi), one
 * that loses the last line of output. The real runtimes are checked by hand (docs/embedding.md).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "./support/device-check.js";
import { sameBitsFixtures } from "./support/same-bits.js";
import { WASM3_SIMPLE_LACKS } from "./support/wasi.js";

const dir = mkdtempSync(join(tmpdir(), "phasor-device-check-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** iwasm's command line (--dir=. MODULE ARGS...) over node:wasi, the working directory preopened as ".". */
const FAITHFUL = `import { readFileSync } from "node:fs";
import { WASI } from "node:wasi";
const argv = process.argv.slice(2);
if (argv[0] === "--version") {
  console.log("stand-in iwasm 1.0");
  process.exit(0);
}
const [, module, ...args] = argv;
const wasi = new WASI({ version: "preview1", args: ["phasor-wasi", ...args], env: {}, preopens: { ".": process.cwd() }, returnOnExit: true });
const imports = wasi.getImportObject();
// a runtime whose WASI lacks these functions, as wasm3's "simple" one does: a call stops the run with wasm3's words
for (const name of (process.env.STAND_IN_LACKS ?? "").split(",").filter(Boolean)) {
  imports.wasi_snapshot_preview1[name] = () => {
    process.stderr.write("Error: function body is missing\\n");
    process.exit(1);
  };
}
const instance = await WebAssembly.instantiate(await WebAssembly.compile(readFileSync(module)), imports);
process.exitCode = wasi.start(instance);
`;

function runtime(name: string, script: string): string {
  const path = join(dir, name);
  writeFileSync(path, script);
  chmodSync(path, 0o755);
  return path;
}

async function check(args: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const sink = (append: (text: string) => void) => new Writable({ write: (chunk, _, done) => (append(String(chunk)), done()) });
  // the smallest of the same-bits fixtures and the first (which adds the bad-line case)
  const fixtures = sameBitsFixtures();
  const status = await main(args, sink((t) => (out += t)), sink((t) => (err += t)), [fixtures[0], fixtures[2]]);
  return { status, out, err };
}

describe("npm run check:devices", () => {
  writeFileSync(join(dir, "faithful.mjs"), FAITHFUL);
  const faithful = runtime("iwasm", `#!/bin/sh\nexec "${process.execPath}" --no-warnings "${join(dir, "faithful.mjs")}" "$@"\n`);
  const lossy = runtime("lossy-iwasm", `#!/bin/sh\n[ "$1" = --version ] && exec "${faithful}" --version\n"${faithful}" "$@" | head -n -1\n`);

  // both in one run: the cases (and phasor run's outputs for them) are worked out once
  let result: { status: number; out: string; err: string };
  beforeAll(async () => {
    result = await check(["--iwasm", faithful, "--iwasm", lossy]);
  });

  it("passes a runtime that prints phasor run's bytes, message and status in every case, and names it with its version", () => {
    expect(result.err).toBe("");
    const [, first] = result.out.split(/\niwasm \S+/);
    expect(first).toMatch(/same bytes +H=32 I=4, 1 layer with peepholes, 4 sequences: a bad line\n/);
    expect(first).not.toMatch(/DIFFERENT/);
    expect(first).toMatch(/same bytes +learning, an 'every' readout of 1 output \(squared error\): --learn from a saved readout\n/);
    expect(result.out).toMatch(
      /\niwasm \S+\/iwasm \(stand-in iwasm 1\.0\): same bytes as phasor run in 9 of 9 runs; same bytes as the library's learning in 6 of 6 runs\n/,
    );
  });

  it("fails a runtime that does not, with the case, the line and the exit status that differ", () => {
    expect(result.status).toBe(1);
    expect(result.out).toMatch(
      /DIFFERENT +H=8,12,6 I=3, 3 layers, epoch ms: --emit last\n +build\/phasor-wasi-scalar\.wasm: stdout differs at line 2: the runtime printed \(the end of the output\), phasor run \{"seq":"y"/,
    );
    expect(result.out).toMatch(/a bad line\n.*exit status 0, phasor run's 2/);
    expect(result.out).toMatch(
      /DIFFERENT +learning, a 'last' readout of 3 classes \(cross-entropy\): --learn\n +build\/phasor-wasi-scalar\.wasm: stdout differs at line \d+: the runtime printed \(the end of the output\), the library \{"seq":29,/,
    );
    expect(result.out).toMatch(
      // the count is of the runs that differ: every run of this runtime does
      /\niwasm \S+\/lossy-iwasm \(stand-in iwasm 1\.0\): DIFFERENT from phasor run in 9 of 9 runs; DIFFERENT from the library's learning in 6 of 6 runs\n$/,
    );
  });

  it("a runtime whose WASI cannot rename passes the in-place learning runs and fails the others, saying why", async () => {
    const simple = runtime("simple-iwasm", `#!/bin/sh\nSTAND_IN_LACKS=${WASM3_SIMPLE_LACKS.join(",")} exec "${faithful}" "$@"\n`);
    const run = await check(["--iwasm", simple]);
    expect(run.status).toBe(1);
    expect(run.out).toMatch(/same bytes +learning, a 'last' readout of 3 classes \(cross-entropy\): --learn, --readout-write in-place\n/);
    expect(run.out).toMatch(
      /DIFFERENT +learning, a 'last' readout of 3 classes \(cross-entropy\): --learn\n.*the runtime's WASI lacks a function that --readout-out's replacement calls \(docs\/wasi\.md\): --readout-write in-place writes without it\n/,
    );
    expect(run.out).toMatch(/simple-iwasm \(stand-in iwasm 1\.0\): same bytes as phasor run in 9 of 9 runs; DIFFERENT from the library's learning in 4 of 6 runs\n$/);
  });

  it("refuses to start without a runtime it can run", async () => {
    expect((await check([])).status).toBe(2);
    expect((await check(["--wasmer", faithful])).err).toMatch(/unknown argument --wasmer/);
    const missing = await check(["--wasm3", join(dir, "no-such-runtime")]);
    expect(missing.status).toBe(2);
    expect(missing.err).toMatch(/--wasm3 .*no-such-runtime: cannot run it: .*ENOENT/);
  });
});
