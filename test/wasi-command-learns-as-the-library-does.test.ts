/**
 * The WASI command learns from labelled events as the library's fixed engine does (docs/wasi.md, "Learning";
 * docs/on-device-learning.md): with --learn, the outputs of every event and the readout's bytes at the end are the
 * library's stream.learning bits, under node:wasi (SIMD build) and on the wasmtime wheel (scalar build), for a
 * readout of classes and one of values; a readout saved by one run goes on learning in the next; and bad flags,
 * labels and readout files are refused with a message and exit status 2, no readout file written.
 */
import "../host/node.js";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import { encodePlsm } from "../host/model/plsm.js";
import { quantize } from "../host/model/quantize.js";
import { calibrationStreams } from "./support/engines.js";
import { labelledNdjson, learningFixtures, libraryLearningRun, type LabelledSequence, type LearningRun } from "./support/learning.js";
import { Rng, randomModel } from "./support/random.js";
import { firstBitDifference } from "./support/same-bits.js";
import { WASM3_SIMPLE_LACKS, requireWasmtime, runNodeWasi, runWasmtime, scratchDirectory, type WasiRun } from "./support/wasi.js";

const RATE = { eta: 0.5, c: 0.9 };
const LEARN = ["--learn", String(RATE.eta), "--learn-c", String(RATE.c)];
const FIXTURES = learningFixtures();
/** Runs the SIMD command under node:wasi in a process of its own, "." preopened, its exit status the process's. */
const NODE_WASI = resolve("test/support/node-wasi-command.mjs");

let dir = "";
beforeAll(() => {
  requireWasmtime();
  dir = scratchDirectory();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function library(image: Uint8Array, sequences: LabelledSequence[], every: boolean, rate: { eta: number; c?: number } = RATE, from?: Uint8Array): Promise<LearningRun> {
  const engine = await createEngine(loadModelBytes(image, "learning.plsm"), { engine: "fixed" });
  const stream = engine.createStream();
  if (from) stream.learning!.load(from);
  const run = libraryLearningRun(stream, sequences, rate, every);
  engine.dispose();
  return run;
}

/** The y of every line the command printed, in order. */
function printedOutputs(run: WasiRun): number[] {
  return run.stdout.toString("utf8").trimEnd().split("\n").flatMap((line) => (JSON.parse(line) as { y: number[] }).y);
}

function expectLibraryBits(run: WasiRun, saved: string, expected: LearningRun, who: string): void {
  expect(run.stderr, who).toBe("");
  expect(run.status, who).toBe(0);
  const y = printedOutputs(run);
  expect(y.length, who).toBe(expected.y.length);
  expect(firstBitDifference(y, Array.from(expected.y)), `${who}: first output that differs`).toBe(-1);
  expect(Buffer.from(readFileSync(join(dir, saved))).equals(Buffer.from(expected.readout)), `${who}: the readout's bytes`).toBe(true);
}

describe.each(FIXTURES.map((f) => [f.name, f] as const))("learning on %s", (_, f) => {
  const events = labelledNdjson(f.inputSize, f.sequences);
  const model = `${f.outputSize}.plsm`;
  let expected: LearningRun;
  beforeAll(async () => {
    writeFileSync(join(dir, model), f.image);
    expected = await library(f.image, f.sequences, f.every);
  });

  it("under node:wasi, every output and the readout's bytes are the library's", async () => {
    const saved = `${f.outputSize}-node.readout`;
    const run = await runNodeWasi("simd", ["--model", model, ...LEARN, "--readout-out", saved], events, dir);
    expectLibraryBits(run, saved, expected, "node:wasi");
    // the readout moved: a run that does not learn prints other outputs
    const still = await runNodeWasi("simd", ["--model", model], events, dir);
    expect(firstBitDifference(printedOutputs(still), Array.from(expected.y))).toBeGreaterThanOrEqual(0);
  });

  it("on the wasmtime wheel (the scalar build), the same bits", () => {
    const saved = `${f.outputSize}-wasmtime.readout`;
    const run = runWasmtime("scalar", ["--model", model, ...LEARN, "--readout-out", saved], events, dir);
    expectLibraryBits(run, saved, expected, "wasmtime");
  });

  it("--readout-write in-place: the same bits without the WASI functions that wasm3's simple WASI lacks, over a longer file", async () => {
    const saved = `${f.outputSize}-in-place.readout`;
    // a file that was there, longer than the readout: emptied, not written over its start
    writeFileSync(join(dir, saved), Buffer.alloc(expected.readout.length + 1000, 0x55));
    const run = await runNodeWasi("simd", ["--model", model, ...LEARN, "--readout-out", saved, "--readout-write", "in-place"], events, dir, WASM3_SIMPLE_LACKS);
    expectLibraryBits(run, saved, expected, "in place");
    // the default replaces the file by a rename, which such a runtime cannot do: the reason for the flag
    await expect(runNodeWasi("simd", ["--model", model, ...LEARN, "--readout-out", `${f.outputSize}-replace.readout`], events, dir, WASM3_SIMPLE_LACKS)).rejects.toThrow(
      /function body is missing/,
    );
  });

  it("--learn-c defaults to the library's c", async () => {
    const saved = `${f.outputSize}-default-c.readout`;
    const run = await runNodeWasi("simd", ["--model", model, "--learn", "2", "--readout-out", saved], events, dir);
    const capped = await library(f.image, f.sequences, f.every, { eta: 2 });
    expectLibraryBits(run, saved, capped, "default c");
    expect(Buffer.from(capped.readout).equals(Buffer.from(expected.readout))).toBe(false);
  });

  it("--emit last prints each sequence's output before its label is learned", async () => {
    const run = await runNodeWasi("simd", ["--model", model, ...LEARN, "--emit", "last"], events, dir);
    expect(run.stderr).toBe("");
    const lastOfEach: number[] = [];
    let end = 0;
    for (const s of f.sequences) {
      end += s.t.length;
      lastOfEach.push(...expected.y.subarray((end - 1) * f.outputSize, end * f.outputSize));
    }
    expect(firstBitDifference(printedOutputs(run), lastOfEach)).toBe(-1);
  });

  it("a readout saved by one run goes on learning in the next (--readout-in), as a library stream that loads it", async () => {
    const first = `${f.outputSize}-first.readout`;
    const second = `${f.outputSize}-second.readout`;
    writeFileSync(join(dir, first), expected.readout);
    const run = await runNodeWasi("simd", ["--model", model, ...LEARN, "--readout-in", first, "--readout-out", second], events, dir);
    expectLibraryBits(run, second, await library(f.image, f.sequences, f.every, RATE, expected.readout), "--readout-in");
    // without --learn, the loaded readout gives the outputs and is saved as it was
    const kept = `${f.outputSize}-kept.readout`;
    const still = await runNodeWasi("simd", ["--model", model, "--readout-in", first, "--readout-out", kept], events, dir);
    expect(still.status).toBe(0);
    expect(readFileSync(join(dir, kept)).equals(Buffer.from(expected.readout))).toBe(true);
  });
});

describe("phasor-wasi refuses what it cannot learn from", () => {
  const [classes, values] = FIXTURES;
  const classEvents = labelledNdjson(classes.inputSize, classes.sequences);
  beforeAll(() => {
    writeFileSync(join(dir, "classes.plsm"), classes.image);
    writeFileSync(join(dir, "values.plsm"), values.image);
    writeFileSync(join(dir, "float.plsm"), encodePlsm(classes.model));
  });

  async function refused(args: string[], stdin: string | Uint8Array = classEvents, saved = "refused.readout"): Promise<WasiRun> {
    rmSync(join(dir, saved), { force: true });
    const run = await runNodeWasi("simd", args, stdin, dir);
    expect(run.status).toBe(2);
    expect(run.stderr.split("\n")).toHaveLength(2);
    expect(existsSync(join(dir, saved)), "no readout is written").toBe(false);
    return run;
  }

  it("bad flags", async () => {
    const base = ["--model", "classes.plsm", "--readout-out", "refused.readout"];
    for (const [flags, message] of [
      [["--learn", "fast"], '--learn (the step eta) must be a number in [2^-24, 1024] (got "fast")'],
      [["--learn", "0"], '--learn (the step eta) must be a number in [2^-24, 1024] (got "0")'],
      [["--learn=2000"], '--learn (the step eta) must be a number in [2^-24, 1024] (got "2000")'],
      [["--learn", "0.1", "--learn-c", "1.5"], '--learn-c (the cap\'s c) must be a number in [2^-16, 1] (got "1.5")'],
      [["--learn", "0.1", "--learn-c", "Infinity"], '--learn-c (the cap\'s c) must be a number in [2^-16, 1] (got "Infinity")'],
      [["--learn-c", "0.5"], "--learn-c needs --learn ETA (the step the readout learns with)"],
      [["--learn", "0.1", "--learn", "0.2"], "--learn is given twice"],
      [["--learn", "0.1", "--readout-write", "atomic"], '--readout-write must be one of replace, in-place (got "atomic")'],
      [["--learn", "0.1", "--readout-write", "in-place", "--readout-write", "replace"], "--readout-write is given twice"],
    ] as const) {
      const run = await refused([...base, ...flags]);
      expect(run.stderr).toBe(`phasor-wasi: ${message}\n`);
      expect(run.stdout.length).toBe(0);
    }
  });

  it("--readout-write without --readout-out is refused: it would say how to write a file that is not written", async () => {
    const run = await refused(["--model", "classes.plsm", "--learn", "0.1", "--readout-write", "in-place"]);
    expect(run.stderr).toBe("phasor-wasi: --readout-write needs --readout-out FILE (the file it says how to write)\n");
  });

  it("a label that is not a class, or not a target value, at its line, before the event runs", async () => {
    const lines = classEvents.split("\n");
    for (const label of [3, 1.5, -1]) {
      const bad = [...lines.slice(0, 4), JSON.stringify({ ...JSON.parse(lines[4]), label }), ...lines.slice(5)].join("\n");
      const run = await refused(["--model", "classes.plsm", "--learn", "0.1", "--readout-out", "refused.readout"], bad);
      expect(run.stderr).toBe(`phasor-wasi: stdin:5: label ${label} is not a class of this model (0 to 2)\n`);
      expect(run.stdout.toString("utf8").trimEnd().split("\n")).toHaveLength(4);
    }
    const valueLines = labelledNdjson(values.inputSize, values.sequences).split("\n");
    const big = [JSON.stringify({ ...JSON.parse(valueLines[0]), label: 1e30 }), ...valueLines.slice(1)].join("\n");
    const run = await refused(["--model", "values.plsm", "--learn", "0.1", "--readout-out", "refused.readout"], big);
    expect(run.stderr).toBe("phasor-wasi: stdin:1: label 1e+30 is beyond +-2^23, the range of a target value\n");
    // without --learn, labels are the sequence's class or target, as phasor run takes them: not checked
    expect((await runNodeWasi("simd", ["--model", "values.plsm"], big, dir)).status).toBe(0);
  });

  it("a labelled line over --max-line-bytes, as any line", async () => {
    const run = await refused(["--model", "classes.plsm", "--learn", "0.1", "--max-line-bytes", "20", "--readout-out", "refused.readout"]);
    expect(run.stderr).toBe("phasor-wasi: stdin:1: the line is longer than 20 bytes (the limit; --max-line-bytes raises it)\n");
  });

  it("binary records (they carry no labels) and a float model (it has no integer readout)", async () => {
    const header = Buffer.alloc(16);
    header.write("PLEV", 0, "latin1");
    header.writeUInt16LE(1, 4);
    header.writeUInt32LE(classes.inputSize, 8);
    const binary = await refused(["--model", "classes.plsm", "--learn", "0.1", "--readout-out", "refused.readout"], header);
    expect(binary.stderr).toBe('phasor-wasi: stdin:record 0: binary records carry no labels: --learn needs NDJSON events with a "label"\n');
    const float = await refused(["--model", "float.plsm", "--learn", "0.1", "--readout-out", "refused.readout"]);
    expect(float.stderr).toBe(
      "phasor-wasi: float.plsm: a float model has no integer readout to learn: --learn and the readout flags need a fixed-point .plsm\n",
    );
  });

  it("a readout file that is damaged, of another model, of another size, or missing; and one it cannot write", async () => {
    const good = (await library(classes.image, classes.sequences.slice(0, 3), false)).readout;
    const damaged = Uint8Array.from(good);
    damaged[40] ^= 1;
    const otherSize = (await library(values.image, values.sequences.slice(0, 3), true)).readout;
    // the same sizes, adapted from a model of another checksum, sealed again
    const otherModel = Uint8Array.from(good);
    const view = new DataView(otherModel.buffer);
    view.setUint32(8, view.getUint32(8, true) ^ 1, true);
    view.setUint32(otherModel.length - 4, crc32(otherModel.subarray(0, otherModel.length - 4)), true);
    const cases: [string, Uint8Array | null, string][] = [
      ["damaged.readout", damaged, "the checksum does not match: the bytes are damaged"],
      ["short.readout", good.subarray(0, good.length - 1), `${good.length - 1} bytes, an adapted readout of this model has ${good.length}`],
      ["long.readout", Uint8Array.from([...good, 0]), `longer than an adapted readout of this model (${good.length} bytes)`],
      ["other-size.readout", otherSize, `${otherSize.length} bytes, an adapted readout of this model has ${good.length}`],
      ["other-model.readout", otherModel, "adapted from another model (its checksum or sizes differ)"],
    ];
    for (const [name, bytes, why] of cases) {
      writeFileSync(join(dir, name), bytes!);
      const run = await refused(["--model", "classes.plsm", "--learn", "0.1", "--readout-in", name, "--readout-out", "refused.readout"]);
      expect(run.stderr).toBe(`phasor-wasi: ${name}: not a readout this model can take: ${why}\n`);
    }
    const missing = await refused(["--model", "classes.plsm", "--readout-in", "missing.readout", "--readout-out", "refused.readout"]);
    expect(missing.stderr).toBe("phasor-wasi: missing.readout: cannot read the readout file: no such file\n");
    const outside = await refused(["--model", "classes.plsm", "--learn", "0.1", "--readout-out", "/elsewhere/out.readout"]);
    expect(outside.stderr).toBe("phasor-wasi: /elsewhere/out.readout: cannot write the readout: no preopened directory holds it (give the runtime --dir)\n");
  });

  it("a run whose stdout goes away before the events end writes no readout, and says so", () => {
    // the labelled sequences 40 times over (new seq ids), far more output than `head -c 100` reads
    const lines = classEvents.trimEnd().split("\n").map((line) => JSON.parse(line) as { seq: number });
    const many = Array.from({ length: 40 }, (_, rep) => lines.map((e) => JSON.stringify({ ...e, seq: e.seq + 30 * rep }))).flat();
    writeFileSync(join(dir, "many.ndjson"), many.join("\n") + "\n");
    rmSync(join(dir, "cut.readout"), { force: true });
    const command = "python3 tools/devices/wasmtime-run.py run --dir \"$DIR\"::. build/phasor-wasi-scalar.wasm -- " +
      "--model classes.plsm --learn 0.1 --events many.ndjson --readout-out cut.readout | head -c 100 > /dev/null; exit ${PIPESTATUS[0]}";
    const run = spawnSync("bash", ["-c", command], { env: { ...process.env, DIR: dir }, encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^phasor-wasi: cannot write to stdout: .* \(the events were not all run: the readout is not written\)\n$/);
    expect(existsSync(join(dir, "cut.readout"))).toBe(false);
  });

  it("a run that fails leaves an existing readout file as it was", async () => {
    writeFileSync(join(dir, "kept.readout"), "before");
    const lines = classEvents.split("\n");
    const bad = [...lines.slice(0, 40), '{"t": 1, "x": [1]}', ...lines.slice(40)].join("\n");
    const run = await runNodeWasi("simd", ["--model", "classes.plsm", "--learn", "0.1", "--readout-out", "kept.readout"], bad, dir);
    expect(run.status).toBe(2);
    expect(readFileSync(join(dir, "kept.readout"), "utf8")).toBe("before");
  });

  it("--readout-out that is a pipe or a folder is refused before any event runs, exit 2, and the pipe stays a pipe", () => {
    // the readout is renamed over its file, which would replace a pipe; before the rename, opening the pipe to
    // write waited for a reader. On wasmtime, in a process of its own with a time limit, so that a wait fails
    const fifo = "readout.fifo";
    rmSync(join(dir, fifo), { force: true });
    expect(spawnSync("mkfifo", [join(dir, fifo)]).status).toBe(0);
    for (const [target, why] of [[fifo, "not a regular file"], [".", "it is a directory"]]) {
      const args = ["tools/devices/wasmtime-run.py", "run", "--dir", `${dir}::.`, "build/phasor-wasi-scalar.wasm", "--"];
      const run = spawnSync("python3", [...args, "--model", "classes.plsm", "--learn", "0.1", "--readout-out", target], { input: classEvents, encoding: "utf8", timeout: 30_000 });
      expect(run.stderr, target).toBe(`phasor-wasi: ${target}: cannot write the readout there: ${why}\n`);
      expect(run.status, target).toBe(2);
      expect(run.stdout, target).toBe("");
    }
    expect(statSync(join(dir, fifo)).isFIFO(), "the pipe is still a pipe").toBe(true);
    rmSync(join(dir, fifo));
  });

  it("a readout it cannot write whole leaves --readout-out's file as it was, and says so, exit 1", () => {
    // a readout of 36 + 8 O + 4 O H = 4,356 bytes, past the 4 KiB file-size limit below; before, the command emptied
    // the file by opening it for writing and left its first 4,096 bytes there
    const float = randomModel(new Rng(8), { inputSize: 2, hidden: [52], peephole: true, rOn: 0.3, outputs: 20, mode: "last", alpha: 0 });
    writeFileSync(join(dir, "wide.plsm"), quantize(float, calibrationStreams(8, 2), "wide").bytes);
    const events = '{"t": 1, "x": [0.5, 0.25], "label": 1}\n{"t": 2, "x": [0.5, 0.25], "label": 7}\n';
    writeFileSync(join(dir, "wide.ndjson"), events);
    const args = ["--model", "wide.plsm", "--events", "wide.ndjson", "--readout-out", "wide.readout"];
    const first = spawnSync("node", [NODE_WASI, ...args], { cwd: dir, encoding: "utf8" });
    expect(first.status, first.stderr).toBe(0);
    const before = readFileSync(join(dir, "wide.readout"));
    expect(before.length).toBe(4356);
    // node:wasi in a process of its own under the limit; SIGXFSZ is ignored there, so that the write fails (EFBIG)
    const limited = spawnSync("bash", ["-c", 'ulimit -f 4; exec node "$@"', "bash", NODE_WASI, ...args, "--learn", "0.5"], { cwd: dir, encoding: "utf8" });
    expect(limited.status, limited.stderr).toBe(1);
    expect(limited.stderr).toMatch(/^phasor-wasi: wide\.readout: cannot write the readout: the file is too large\n$/);
    expect(readFileSync(join(dir, "wide.readout")).equals(before), "the saved readout is untouched").toBe(true);
    expect(readdirSync(dir).filter((name) => name.startsWith("wide.readout")), "no partial file is left").toEqual(["wide.readout"]);
    // written in place, the same failure leaves the file cut short, and the message says so
    const inPlace = spawnSync("bash", ["-c", 'ulimit -f 4; exec node "$@"', "bash", NODE_WASI, ...args, "--learn", "0.5", "--readout-write", "in-place"], { cwd: dir, encoding: "utf8" });
    expect(inPlace.status, inPlace.stderr).toBe(1);
    expect(inPlace.stderr).toBe("phasor-wasi: wide.readout: cannot write the readout: the file is too large (written in place: the file is cut short)\n");
    expect(readFileSync(join(dir, "wide.readout")).length).toBe(4096);
  });
});
