/**
 * The device check (`npm run check:devices`, tools/devices/check-devices.mjs, docs/embedding.md): the same-bits suite's
 * models and streams (test/support/same-bits.ts) through the scalar WASI command, build/phasor-wasi-scalar.wasm, on
 * the wasm runtimes a user has (WAMR's iwasm, wasm3, the wasmtime CLI), each compared byte for byte with what
 * `phasor run` prints for the same model and events, and a bad event line compared too (the lines before it, the
 * message, exit status 2). It runs the runtimes it is given and never builds one.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { phasor } from "./cli.js";
import { sameBitsFixtures, type SameBitsFixture } from "./same-bits.js";

export const WASI_SCALAR = "build/phasor-wasi-scalar.wasm";

/** How each runtime's command line runs a WASI command with the working directory preopened as ".". */
export const RUNTIMES: Record<string, (runtime: string, module: string, args: string[]) => string[]> = {
  iwasm: (runtime, module, args) => [runtime, "--dir=.", module, ...args],
  // wasm3 preopens the working directory itself ("/" and "./")
  wasm3: (runtime, module, args) => [runtime, module, ...args],
  wasmtime: (runtime, module, args) => [runtime, "run", "--dir", ".", module, "--", ...args],
};

const USAGE =
  "usage: npm run check:devices -- [--iwasm PATH] [--wasm3 PATH] [--wasmtime PATH]\n" +
  "Runs the same-bits suite's models and events through build/phasor-wasi-scalar.wasm on each runtime given\n" +
  "and compares every byte with phasor run. Builds nothing: give the paths of runtimes you have.\n";

export interface CheckCase {
  name: string;
  /** the fixture's directory: the runtime runs there, with it preopened as "." */
  dir: string;
  /** the WASI command's arguments, paths relative to dir */
  args: string[];
  stdin: string;
  /** what phasor run printed for the same model, events and flags */
  expected: { status: number | null; stdout: string; message: string };
}

export interface CaseResult {
  name: string;
  same: boolean;
  /** why not, when not */
  difference?: string;
}

/** The message of an error line without the program's name: both say `where: what`. */
function messageOf(stderr: string): string {
  return stderr.replace(/^(phasor-wasi|phasor run): /, "").trimEnd();
}

/** The events of a fixture with its 10th line's x one number short: a bad line the command must refuse. */
function withBadLine(ndjson: string, inputSize: number): string {
  const lines = ndjson.split("\n");
  lines[9] = JSON.stringify({ ...JSON.parse(lines[9]), x: new Array(inputSize + 1).fill(0.5) });
  return lines.join("\n");
}

/** Writes each fixture's model and events under root, and works out what phasor run prints for each case. */
export function checkCases(root: string, fixtures: SameBitsFixture[]): CheckCase[] {
  const cases: CheckCase[] = [];
  fixtures.forEach((f, k) => {
    const dir = join(root, `model-${k + 1}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "m.plsm"), f.image);
    writeFileSync(join(dir, "events.ndjson"), f.ndjson);
    const variants: [string, string[], string][] = [
      ["every event", [], f.ndjson],
      ["--hidden", ["--hidden"], f.ndjson],
      ["--emit last", ["--emit", "last"], f.ndjson],
      ["--events from a file", ["--events", "events.ndjson"], ""],
    ];
    if (k === 0) variants.push(["a bad line", [], withBadLine(f.ndjson, f.inputSize)]);
    for (const [variant, flags, stdin] of variants) {
      const fromFile = flags[0] === "--events";
      const cli = phasor(["run", "--model", resolve(dir, "m.plsm"), ...(fromFile ? ["--events", resolve(dir, "events.ndjson")] : ["--events", "-", ...flags])], stdin);
      cases.push({
        name: `${f.name}: ${variant}`,
        dir,
        args: ["--model", "m.plsm", ...flags],
        stdin,
        expected: { status: cli.status, stdout: cli.stdout, message: messageOf(cli.stderr) },
      });
    }
  });
  return cases;
}

/** The first line where two outputs differ, shown short. */
function firstDifferentLine(got: string, expected: string): string {
  const a = got.split("\n");
  const b = expected.split("\n");
  let line = 0;
  while (line < a.length && line < b.length && a[line] === b[line]) line++;
  const show = (lines: string[]) => {
    const text = lines[line];
    if (text === undefined || (text === "" && line === lines.length - 1)) return "(the end of the output)";
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  };
  return `stdout differs at line ${line + 1}: the runtime printed ${show(a)}, phasor run ${show(b)}`;
}

/** One case on one runtime: its exit status, stdout and error message against phasor run's. */
export function runCase(argv: string[], module: string, c: CheckCase): CaseResult {
  const [command, ...args] = argv;
  const run = spawnSync(command, args, { cwd: c.dir, input: c.stdin, encoding: "utf8", maxBuffer: 1 << 28, timeout: 300_000 });
  if (run.error) return { name: c.name, same: false, difference: `could not run ${command}: ${run.error.message}` };
  const problems: string[] = [];
  if (run.status !== c.expected.status) problems.push(`exit status ${run.status}, phasor run's ${c.expected.status}`);
  if (run.stdout !== c.expected.stdout) problems.push(firstDifferentLine(run.stdout, c.expected.stdout));
  const message = messageOf(run.stderr);
  if (message !== c.expected.message) problems.push(`stderr ${JSON.stringify(message.slice(0, 300))}, phasor run's ${JSON.stringify(c.expected.message)}`);
  return problems.length === 0 ? { name: c.name, same: true } : { name: c.name, same: false, difference: `${module}: ${problems.join("; ")}` };
}

/** The first line a runtime prints for --version, or why it could not be run. */
export function runtimeVersion(path: string): { version?: string; error?: string } {
  const run = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 30_000 });
  if (run.error) return { error: run.error.message };
  return { version: (run.stdout || run.stderr).trim().split("\n")[0] };
}

interface Runtime {
  kind: string;
  path: string;
}

function parseArguments(args: string[]): Runtime[] | string {
  const runtimes: Runtime[] = [];
  for (let i = 0; i < args.length; i++) {
    const match = /^--(\w+)(?:=(.*))?$/.exec(args[i]);
    const kind = match?.[1];
    if (!match || kind === undefined || !Object.hasOwn(RUNTIMES, kind)) {
      return `unknown argument ${args[i]} (runtimes: ${Object.keys(RUNTIMES).map((k) => `--${k} PATH`).join(", ")})`;
    }
    const path = match[2] ?? args[++i];
    if (!path) return `--${kind} needs the path of the runtime`;
    runtimes.push({ kind, path });
  }
  if (runtimes.length === 0) return "no runtime given";
  return runtimes;
}

/** The check as a command: 0 when every runtime printed phasor run's bytes in every case, 1 when not, 2 for bad
 * arguments or a runtime that cannot be run. */
export function main(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream, fixtures = sameBitsFixtures()): number {
  if (args.includes("--help")) {
    out.write(USAGE);
    return 0;
  }
  const runtimes = parseArguments(args);
  if (typeof runtimes === "string") {
    err.write(`check-devices: ${runtimes}\n${USAGE}`);
    return 2;
  }
  const versions = runtimes.map((r) => runtimeVersion(r.path));
  const broken = versions.findIndex((v) => v.error !== undefined);
  if (broken >= 0) {
    err.write(`check-devices: --${runtimes[broken].kind} ${runtimes[broken].path}: cannot run it: ${versions[broken].error}\n`);
    return 2;
  }
  const root = mkdtempSync(join(tmpdir(), "phasor-device-check-"));
  try {
    out.write(`Working out what phasor run prints for the same-bits suite's models...\n`);
    const cases = checkCases(root, fixtures);
    const module = resolve(WASI_SCALAR);
    const summary: string[] = [];
    runtimes.forEach((runtime, r) => {
      out.write(`\n${runtime.kind} ${runtime.path} (${versions[r].version}), ${WASI_SCALAR}:\n`);
      let same = 0;
      for (const c of cases) {
        const result = runCase(RUNTIMES[runtime.kind](runtime.path, module, c.args), WASI_SCALAR, c);
        out.write(`  ${result.same ? "same bytes" : "DIFFERENT "}  ${c.name}${result.difference ? `\n      ${result.difference}` : ""}\n`);
        if (result.same) same++;
      }
      const verdict = same === cases.length ? "same bytes as phasor run" : "DIFFERENT from phasor run";
      summary.push(`${runtime.kind} (${versions[r].version}): ${verdict} in ${same} of ${cases.length} runs`);
    });
    out.write(`\n${summary.join("\n")}\n`);
    return summary.every((line) => line.includes("same bytes")) ? 0 : 1;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
