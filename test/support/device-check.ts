/**
 * The device check (`npm run check:devices`, tools/devices/check-devices.mjs, docs/embedding.md): the same-bits suite's
 * models and streams (test/support/same-bits.ts) through the scalar WASI command, build/phasor-wasi-scalar.wasm, on
 * the wasm runtimes a user has (WAMR's iwasm, wasm3, the wasmtime CLI), each compared byte for byte with what
 * `phasor run` prints for the same model and events, and a bad event line compared too (the lines before it, the
 * message, exit status 2); then the learning suite's labelled streams (test/support/learning.ts) with --learn,
 * every output and the readout's bytes compared with the library's fixed engine (stream.learning). It runs the
 * runtimes it is given and never builds one.
 */
import "../../host/node.js";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createEngine, loadModelBytes } from "../../host/engine/create.js";
import { phasor } from "./cli.js";
import { labelledNdjson, learningFixtures, libraryLearningRun, type LearningFixture, type LearningRun } from "./learning.js";
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
  "and compares every byte with phasor run; then labelled streams with --learn, compared with the library's\n" +
  "learning (every output and the readout's bytes). Builds nothing: give the paths of runtimes you have.\n";

/** The step the learning cases take (the learning suite's, test/readout-learning-gives-the-same-bits-everywhere.test.ts). */
const RATE = { eta: 0.5, c: 0.9 };

export interface CheckCase {
  name: string;
  /** the fixture's directory: the runtime runs there, with it preopened as "." */
  dir: string;
  /** the WASI command's arguments, paths relative to dir */
  args: string[];
  stdin: string;
  /** what phasor run printed for the same model, events and flags; or, for a learning case, the library */
  expected: { status: number | null; stdout: string; message: string };
  /** whom the case is compared with */
  against: "phasor run" | "the library";
  /** a learning case's readout file (written by the command in dir) and the library's bytes for it */
  readout?: { file: string; bytes: Uint8Array };
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
        against: "phasor run",
      });
    }
  });
  return cases;
}

/** What the command prints for a learning run: a line per event, the library's outputs (seq k for sequence k). */
function learningLines(f: LearningFixture, run: LearningRun): string {
  const O = f.outputSize;
  let k = 0;
  return f.sequences
    .flatMap((s, seq) => Array.from(s.t, (t, i) => `${JSON.stringify({ seq, i, t, y: Array.from(run.y.subarray(k * O, ++k * O)) })}\n`))
    .join("");
}

/**
 * The learning cases, under root: each fixture's labelled events with --learn, from the model's readout and again
 * from the readout the first pass ended with (--readout-in), each compared with a library stream doing the same;
 * and the first again with the readout written in place (--readout-write in-place), the way for runtimes whose
 * WASI cannot rename a file (docs/wasi.md).
 */
export async function learningCases(root: string, fixtures: LearningFixture[]): Promise<CheckCase[]> {
  const cases: CheckCase[] = [];
  for (const [k, f] of fixtures.entries()) {
    const dir = join(root, `learning-${k + 1}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "m.plsm"), f.image);
    const engine = await createEngine(loadModelBytes(f.image, "m.plsm"), { engine: "fixed" });
    const first = libraryLearningRun(engine.createStream(), f.sequences, RATE, f.every);
    writeFileSync(join(dir, "first.readout"), first.readout);
    const again = engine.createStream();
    again.learning!.load(first.readout);
    const second = libraryLearningRun(again, f.sequences, RATE, f.every);
    engine.dispose();
    const learn = ["--model", "m.plsm", "--learn", String(RATE.eta), "--learn-c", String(RATE.c)];
    const stdin = labelledNdjson(f.inputSize, f.sequences);
    for (const [variant, flags, write, run] of [
      ["--learn", [], [], first],
      ["--learn from a saved readout", ["--readout-in", "first.readout"], [], second],
      ["--learn, --readout-write in-place", [], ["--readout-write", "in-place"], first],
    ] as const) {
      cases.push({
        name: `learning, ${f.name}: ${variant}`,
        dir,
        args: [...learn, ...flags, "--readout-out", "learned.readout", ...write],
        stdin,
        expected: { status: 0, stdout: learningLines(f, run), message: "" },
        against: "the library",
        readout: { file: "learned.readout", bytes: run.readout },
      });
    }
  }
  return cases;
}

/** The first line where two outputs differ, shown short. */
function firstDifferentLine(got: string, expected: string, against: string): string {
  const a = got.split("\n");
  const b = expected.split("\n");
  let line = 0;
  while (line < a.length && line < b.length && a[line] === b[line]) line++;
  const show = (lines: string[]) => {
    const text = lines[line];
    if (text === undefined || (text === "" && line === lines.length - 1)) return "(the end of the output)";
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  };
  return `stdout differs at line ${line + 1}: the runtime printed ${show(a)}, ${against} ${show(b)}`;
}

/** One case on one runtime: its exit status, stdout, error message and readout file against phasor run's or the library's. */
export function runCase(argv: string[], module: string, c: CheckCase): CaseResult {
  const [command, ...args] = argv;
  const saved = c.readout ? join(c.dir, c.readout.file) : "";
  if (saved) rmSync(saved, { force: true });
  const run = spawnSync(command, args, { cwd: c.dir, input: c.stdin, encoding: "utf8", maxBuffer: 1 << 28, timeout: 300_000 });
  if (run.error) return { name: c.name, same: false, difference: `could not run ${command}: ${run.error.message}` };
  const problems: string[] = [];
  if (run.status !== c.expected.status) problems.push(`exit status ${run.status}, ${c.against}'s ${c.expected.status}`);
  if (run.stdout !== c.expected.stdout) problems.push(firstDifferentLine(run.stdout, c.expected.stdout, c.against));
  const message = messageOf(run.stderr);
  if (message !== c.expected.message) problems.push(`stderr ${JSON.stringify(message.slice(0, 300))}, ${c.against}'s ${JSON.stringify(c.expected.message)}`);
  if (c.readout) {
    if (!existsSync(saved)) problems.push(`no readout file ${c.readout.file}`);
    else if (!readFileSync(saved).equals(Buffer.from(c.readout.bytes))) problems.push(`the readout's bytes in ${c.readout.file} differ from ${c.against}'s`);
  }
  // wasm3's words for a WASI function it does not have (its "simple" WASI has no path_rename)
  if (c.readout && /function body is missing/.test(run.stderr)) {
    problems.push("the runtime's WASI lacks a function that --readout-out's replacement calls (docs/wasi.md): --readout-write in-place writes without it");
  }
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

/** The check as a command: 0 when every runtime printed phasor run's bytes, and the library's in the learning
 * cases, in every case; 1 when not; 2 for bad arguments or a runtime that cannot be run. */
export async function main(
  args: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  fixtures = sameBitsFixtures(),
  learning = learningFixtures(),
): Promise<number> {
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
    out.write(`Working out what phasor run prints for the same-bits suite's models, and the library's learning...\n`);
    const cases = [...checkCases(root, fixtures), ...(await learningCases(root, learning))];
    const module = resolve(WASI_SCALAR);
    const summary: string[] = [];
    runtimes.forEach((runtime, r) => {
      out.write(`\n${runtime.kind} ${runtime.path} (${versions[r].version}), ${WASI_SCALAR}:\n`);
      const same = { "phasor run": 0, "the library": 0 };
      for (const c of cases) {
        const result = runCase(RUNTIMES[runtime.kind](runtime.path, module, c.args), WASI_SCALAR, c);
        out.write(`  ${result.same ? "same bytes" : "DIFFERENT "}  ${c.name}${result.difference ? `\n      ${result.difference}` : ""}\n`);
        if (result.same) same[c.against]++;
      }
      const verdicts = (["phasor run", "the library"] as const).map((against) => {
        const runs = cases.filter((c) => c.against === against).length;
        // the count is of the runs the verdict names: the same ones when all are, else the ones that differ
        const [verdict, counted] = same[against] === runs ? ["same bytes as", runs] : ["DIFFERENT from", runs - same[against]];
        return `${verdict} ${against === "phasor run" ? "phasor run" : "the library's learning"} in ${counted} of ${runs} runs`;
      });
      summary.push(`${runtime.kind} ${runtime.path} (${versions[r].version}): ${verdicts.join("; ")}`);
    });
    out.write(`\n${summary.join("\n")}\n`);
    return summary.every((line) => !line.includes("DIFFERENT")) ? 0 : 1;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
