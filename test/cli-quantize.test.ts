import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { phasor, type Result } from "./support/cli.js";
import { modelToJson } from "../host/model/model.js";
import { decodePlsm } from "../host/model/plsm.js";
import { ReferenceEngine } from "../host/engine/reference.js";
import { simdSupported } from "../host/engine/wasm-source.js";
import { Rng, randomModel, randomStream } from "./support/random.js";

interface Line {
  seq: unknown;
  i: number;
  t: number;
  y: number[];
  h?: number[];
}

function lines(stdout: string): Line[] {
  expect(stdout.endsWith("\n")).toBe(true);
  return stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as Line);
}

/** Largest |a - b| over every event's y (and h, when both have it); the events must be the same ones. */
function maxAbsDiff(a: Line[], b: Line[], field: "y" | "h"): number {
  expect(a.map((o) => [o.seq, o.i, o.t])).toEqual(b.map((o) => [o.seq, o.i, o.t]));
  let worst = 0;
  a.forEach((o, k) => {
    const left = o[field] as number[];
    const right = b[k][field] as number[];
    expect(left).toHaveLength(right.length);
    left.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - right[j]))));
  });
  return worst;
}

const INPUT = 2;
const HIDDEN = 8;
const SEQUENCES = 3;
const EVENTS_PER_SEQ = 60;

let dir: string;
let modelPath: string;
let eventsPath: string;
let csvText: string;
let outPath: string;
let quantized: Result;

function file(name: string, text: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** files a failed write may have left behind */
function partialFiles(): string[] {
  return readdirSync(dir).filter((name) => name.endsWith(".partial"));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "phasor-quantize-"));
  const rng = new Rng(20240611);
  const model = randomModel(rng, { inputSize: INPUT, hidden: [HIDDEN], peephole: true, rOn: 0.3, outputs: 3, mode: "last", shiftMax: 10 });
  modelPath = file("model.json", JSON.stringify(modelToJson(model)));
  const ndjson: string[] = [];
  const csv = ["t,x0,x1,seq"];
  for (let s = 0; s < SEQUENCES; s++) {
    const stream = randomStream(rng, { n: EVENTS_PER_SEQ, inputSize: INPUT, maxGap: 20 });
    for (let e = 0; e < EVENTS_PER_SEQ; e++) {
      const x = Array.from(stream.x.subarray(e * INPUT, (e + 1) * INPUT));
      ndjson.push(JSON.stringify({ t: stream.t[e], x, seq: `s${s}` }));
      csv.push([stream.t[e], ...x, `s${s}`].join(","));
    }
  }
  eventsPath = file("events.ndjson", ndjson.join("\n") + "\n");
  csvText = csv.join("\n") + "\n";
  outPath = join(dir, "model.plsm");
  quantized = phasor(["quantize", "--model", modelPath, "--calib", eventsPath, "--out", outPath]);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("phasor quantize", () => {
  // before: the declaration was left out of the .plsm, with a warning to give it to phasor gateway as --sensors
  describe("a sensor declaration (docs/gateway.md, \"Sensors\")", () => {
    const DECLARED = [{ name: "a", channels: 1, slots: [1], unit: "m/s^2" }, { name: "b", channels: 1, slots: [0], hold: true }];
    const withSensors = (sensors: unknown) => ({ ...JSON.parse(readFileSync(modelPath, "utf8")), sensors });
    const metadata = (path: string) => decodePlsm(new Uint8Array(readFileSync(path)), path).meta;

    it("is kept in the .plsm's metadata as the model gives it, with no warning, the summary counting its bytes", () => {
      const source = file("with-sensors.json", JSON.stringify(withSensors(DECLARED)));
      const out = join(dir, "with-sensors.plsm");
      const run = phasor(["quantize", "--model", source, "--calib", eventsPath, "--out", out]);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toBe("");
      expect(metadata(out).sensors).toEqual(DECLARED);
      expect(JSON.parse(run.stdout).bytes).toBe(statSync(out).size);
    });

    it("--sensors S.json puts its declaration into the .plsm in place of the model's", () => {
      const source = file("with-sensors-too.json", JSON.stringify(withSensors(DECLARED)));
      const declaration = { format: "phasor-sensors", version: 1, hold: true, sensors: [{ name: "both", channels: 2 }] };
      const sensors = file("sensors.json", JSON.stringify(declaration));
      const out = join(dir, "with-flag.plsm");
      const run = phasor(["quantize", "--model", source, "--calib", eventsPath, "--out", out, "--sensors", sensors]);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toBe("");
      expect(metadata(out).sensors).toEqual(declaration);
    });

    it("is refused as the gateway refuses it, naming where it is, and nothing is written", () => {
      const source = file("bad-sensors.json", JSON.stringify(withSensors([{ name: "a", channels: 3 }])));
      const out = join(dir, "bad-sensors.plsm");
      const run = phasor(["quantize", "--model", source, "--calib", eventsPath, "--out", out]);
      expect(run.status).toBe(2);
      expect(run.stderr).toBe(`phasor quantize: ${source}: sensors: sensors[0].channels: expected an integer from 1 to the model's inputSize 2, got 3\n`);
      expect(run.stdout).toBe("");
      const sensors = file("bad-flag-sensors.json", JSON.stringify({ sensors: [{ name: "a/b", channels: 1 }] }));
      const flagged = phasor(["quantize", "--model", modelPath, "--calib", eventsPath, "--out", out, "--sensors", sensors]);
      expect(flagged.status).toBe(2);
      expect(flagged.stderr).toContain(`phasor quantize: ${sensors}: sensors[0].name: expected a name`);
      expect(existsSync(out)).toBe(false);
      expect(partialFiles()).toEqual([]);
    });

    // before: quantized with JSON.parse's last of the two, the slot given first dropped without a word
    it("that gives a name twice is refused, in a --sensors file or in the model, naming the field and where, and nothing is written", () => {
      const twice = (text: string) => text.replace('"slots":[1]', '"slots":[0],"slots":[1]');
      const sensors = file("twice-sensors.json", twice(JSON.stringify({ sensors: [{ name: "a", channels: 1, slots: [1] }] })));
      const out = join(dir, "twice-sensors.plsm");
      const flagged = phasor(["quantize", "--model", modelPath, "--calib", eventsPath, "--out", out, "--sensors", sensors]);
      expect(flagged.status).toBe(2);
      expect(flagged.stderr).toBe(`phasor quantize: ${sensors}: sensors[0].slots is given twice (line 1, column 50): JSON would keep only the last\n`);
      const modelText = twice(JSON.stringify(withSensors([{ name: "a", channels: 1, slots: [1] }])));
      const source = file("twice-model.json", modelText);
      const run = phasor(["quantize", "--model", source, "--calib", eventsPath, "--out", out]);
      expect(run.status).toBe(2);
      const column = modelText.indexOf('"slots":[1]') + 1;
      expect(run.stderr).toBe(`phasor quantize: ${source}: sensors[0].slots is given twice (line 1, column ${column}): JSON would keep only the last\n`);
      expect(existsSync(out)).toBe(false);
      expect(partialFiles()).toEqual([]);
    });
  });

  it("writes the .plsm and prints one JSON summary line: formats, sizes, calibration ranges and error", () => {
    expect(quantized.stderr).toBe("");
    expect(quantized.status).toBe(0);
    expect(quantized.stdout.endsWith("\n")).toBe(true);
    expect(quantized.stdout.trimEnd().split("\n")).toHaveLength(1);
    const summary = JSON.parse(quantized.stdout);
    expect(Object.keys(summary)).toEqual(["model", "out", "bytes", "uFormats", "layers", "formats", "memory", "calibration", "error"]);
    // within the tolerances with the whole-row formats, so --u-formats auto keeps them
    expect(summary.uFormats).toBe("pairs");
    expect(summary.model).toBe(modelPath);
    expect(summary.out).toBe(outPath);
    expect(summary.bytes).toBe(statSync(outPath).size);
    expect(summary.layers).toEqual([{ inputSize: INPUT, hiddenSize: HIDDEN }]);

    const formats = summary.formats;
    expect(formats.timeUnit).toBe("ms");
    expect(Number.isInteger(formats.ticksLog2)).toBe(true);
    expect(formats.ticksPerUnit).toBe(2 ** formats.ticksLog2);
    expect(Number.isInteger(formats.inputFrac)).toBe(true);
    // the bound of the input format: the calibration's largest |x| within it, and within a factor 2 of it (the format
    // has the most fractional bits that hold it)
    expect(formats.inputLimit).toBe(32767 / 2 ** formats.inputFrac);
    expect(formats.weightFracs.min).toBeLessThanOrEqual(formats.weightFracs.max);
    expect(formats.readoutFracs.min).toBeLessThanOrEqual(formats.readoutFracs.max);
    expect(formats.peepholeFracs).toHaveLength(1);

    for (const key of ["weightsBytes", "stateBytesPerStream", "scratchBytes"]) expect(summary.memory[key]).toBeGreaterThan(0);

    expect(summary.calibration.sequences).toBe(SEQUENCES);
    expect(summary.calibration.events).toBe(SEQUENCES * EVENTS_PER_SEQ);
    expect(summary.calibration.maxAbsInput).toBeGreaterThan(0.5);
    expect(summary.calibration.maxAbsInput).toBeLessThanOrEqual(1);
    expect(summary.calibration.maxAbsInput).toBeLessThanOrEqual(formats.inputLimit);
    expect(summary.calibration.maxAbsInput).toBeGreaterThan(formats.inputLimit / 2);
    expect(summary.calibration.maxAbsCell).toBeGreaterThan(0);

    // plstm.md section 3: the fixed engine's tolerance against the reference
    expect(summary.error.maxAbsH).toBeLessThan(4e-3);
    expect(summary.error.maxAbsY).toBeLessThan(1e-2);
    expect(summary.error.argmaxAgreement).toBe(1);
    expect(partialFiles()).toEqual([]);
  });

  it("--weights int8: half the weight bytes; the engine held to the file's model, the file to the float model's decisions", () => {
    const out = join(dir, "int8.plsm");
    const r = phasor(["quantize", "--model", modelPath, "--calib", eventsPath, "--out", out, "--weights", "int8"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(Object.keys(summary)).toEqual(["model", "out", "bytes", "weights", "uFormats", "layers", "formats", "memory", "calibration", "error", "weightError"]);
    expect(summary.weights).toBe("int8");
    expect(summary.bytes).toBe(statSync(out).size);
    expect(summary.bytes).toBeLessThan(statSync(outPath).size);
    expect(summary.error.maxAbsH).toBeLessThan(4e-3);
    expect(summary.error.maxAbsY).toBeLessThan(1e-2);
    expect(summary.weightError.argmaxAgreement).toBeGreaterThanOrEqual(0.995);
    // int8 rounding moves h more than the engine's own arithmetic does
    expect(summary.weightError.maxAbsH).toBeGreaterThan(summary.error.maxAbsH);
    const run = phasor(["run", "--model", out, "--events", eventsPath, "--emit", "last"]);
    expect(run.status).toBe(0);
    expect(run.stdout.trimEnd().split("\n")).toHaveLength(SEQUENCES);
  });

  it("--weights int8 refuses a model whose decisions int8 weights change, unless --accept-error", () => {
    // classes that the float model tells apart by a hair on half of 60 sequences: the readout's bias difference is
    // set at the median of the reference's final margins, where int8 rounding of W and U tips some of them over
    const rng = new Rng(99);
    const model = randomModel(rng, { inputSize: INPUT, hidden: [HIDDEN], peephole: true, rOn: 1, outputs: 2, mode: "last" });
    for (let j = 0; j < HIDDEN; j++) model.readout.V[HIDDEN + j] = -model.readout.V[j];
    const lines: string[] = [];
    const margins: number[] = [];
    const reference = new ReferenceEngine(model);
    for (let s = 0; s < 60; s++) {
      const stream = randomStream(rng, { n: 30, inputSize: INPUT, maxGap: 20 });
      const r = reference.createStream();
      for (let e = 0; e < 30; e++) {
        const x = stream.x.subarray(e * INPUT, (e + 1) * INPUT);
        r.push(stream.t[e], x);
        lines.push(JSON.stringify({ t: stream.t[e], x: Array.from(x), seq: s }));
      }
      const y = r.output();
      margins.push(y[0] - y[1]);
    }
    margins.sort((a, b) => a - b);
    model.readout.d[1] = model.readout.d[0] + (margins[29] + margins[30]) / 2;
    const calib = file("tied.ndjson", lines.join("\n") + "\n");
    const path = file("tied.json", JSON.stringify(modelToJson(model)));
    const out = join(dir, "tied.plsm");
    const refused = phasor(["quantize", "--model", path, "--calib", calib, "--out", out, "--weights", "int8"]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/with int8 weights the argmax agrees with the float model's on [\d.]+ of the sequences, below 0\.995\).*tied\.plsm was not written/);
    expect(existsSync(out)).toBe(false);
    const accepted = phasor(["quantize", "--model", path, "--calib", calib, "--out", out, "--weights", "int8", "--accept-error"]);
    expect(accepted.status).toBe(0);
    expect(existsSync(out)).toBe(true);
    const bad = phasor(["quantize", "--model", path, "--calib", eventsPath, "--out", out, "--weights", "int4"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--weights.*int4.*int16.*int8|int16, int8/);
  });

  it("writes the same file from the same events given as CSV on stdin", () => {
    const fromCsv = join(dir, "from-csv.plsm");
    const r = phasor(["quantize", "--model", modelPath, "--calib", "-", "--out", fromCsv], csvText);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(readFileSync(fromCsv)).toEqual(readFileSync(outPath));
    const summary = JSON.parse(r.stdout);
    expect(summary.out).toBe(fromCsv);
    expect({ ...summary, out: outPath }).toEqual(JSON.parse(quantized.stdout));
  });

  it("the .plsm runs on the fixed engine by default, within 1e-2 of the reference on the JSON model", () => {
    const fixed = phasor(["run", "--model", outPath, "--events", eventsPath, "--hidden"]);
    expect(fixed.stderr).toBe("");
    expect(fixed.status).toBe(0);
    const reference = phasor(["run", "--engine", "reference", "--model", modelPath, "--events", eventsPath, "--hidden"]);
    expect(reference.status).toBe(0);
    const [a, b] = [lines(fixed.stdout), lines(reference.stdout)];
    expect(a).toHaveLength(SEQUENCES * EVENTS_PER_SEQ);
    expect(maxAbsDiff(a, b, "y")).toBeLessThan(1e-2);
    expect(maxAbsDiff(a, b, "h")).toBeLessThan(4e-3);
    // the same numbers as --engine fixed spelled out
    expect(phasor(["run", "--engine", "fixed", "--model", outPath, "--events", eventsPath, "--hidden"]).stdout).toBe(fixed.stdout);
  });

  it("the .plsm runs on the float engine too (its de-quantized weights)", () => {
    const float = phasor(["run", "--engine", "float", "--model", outPath, "--events", eventsPath]);
    expect(float.stderr).toBe("");
    expect(float.status).toBe(0);
    const reference = phasor(["run", "--engine", "reference", "--model", modelPath, "--events", eventsPath]);
    expect(maxAbsDiff(lines(float.stdout), lines(reference.stdout), "y")).toBeLessThan(1e-2);
  });

  it.runIf(simdSupported())("--simd on and --simd off print the same bytes on the fixed engine", () => {
    const on = phasor(["run", "--simd", "on", "--model", outPath, "--events", eventsPath, "--hidden"]);
    const off = phasor(["run", "--simd", "off", "--model", outPath, "--events", eventsPath, "--hidden"]);
    expect(on.status).toBe(0);
    expect(off.status).toBe(0);
    expect(on.stdout).toBe(off.stdout);
  });

  it("with --skip-bad calibrates on the good lines and counts the bad ones on stderr", () => {
    const text = readFileSync(eventsPath, "utf8").replace("\n", '\n{"t": 1, "x": [0.5]}\n');
    const mixed = file("mixed.ndjson", text);
    const out = join(dir, "skip-bad.plsm");
    const r = phasor(["quantize", "--model", modelPath, "--calib", mixed, "--out", out, "--skip-bad"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`phasor quantize: skipped 1 bad line (first: ${mixed}:2: "x" has 1 numbers, the model's inputSize is 2)\n`);
    expect(JSON.parse(r.stdout).calibration.events).toBe(SEQUENCES * EVENTS_PER_SEQ);
    expect(existsSync(out)).toBe(true);
  });
});

describe("phasor quantize failures leave no file behind", () => {
  it("exits 2 for a bad calibration line, naming the file and line, and writes nothing", () => {
    const bad = file("bad.ndjson", '{"t": 0, "x": [0.1, 0.2], "seq": "a"}\n{"t": 1, "x": [0.1], "seq": "a"}\n');
    const out = join(dir, "bad-calib.plsm");
    const r = phasor(["quantize", "--model", modelPath, "--calib", bad, "--out", out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`phasor quantize: ${bad}:2: "x" has 1 numbers, the model's inputSize is 2\n`);
    expect(r.stdout).toBe("");
    expect(existsSync(out)).toBe(false);
    expect(partialFiles()).toEqual([]);
  });

  // before: "batch event 1 at t=1e+300: ...", naming neither the file nor the line
  it("exits 2 naming the file and line of a calibration event the fixed engine refuses, and writes nothing", () => {
    const far = file("far.ndjson", '{"t": 0, "x": [0.1, 0.2], "seq": "a"}\n\n{"t": 1e300, "x": [0.1, 0.2], "seq": "a"}\n');
    const out = file("far.plsm", "the previous model");
    const r = phasor(["quantize", "--model", modelPath, "--calib", far, "--out", out]);
    expect(r.stderr).toMatch(new RegExp(`^phasor quantize: ${far.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3: event at t=1e\\+300: more than 2\\^62 ticks`));
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(readFileSync(out, "utf8")).toBe("the previous model");
    expect(partialFiles()).toEqual([]);
  });

  it("exits 2 for a calibration file without events", () => {
    const empty = file("empty.ndjson", "\n\n");
    const out = join(dir, "no-events.plsm");
    const r = phasor(["quantize", "--model", modelPath, "--calib", empty, "--out", out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`phasor quantize: ${empty}: no events to calibrate on\n`);
    expect(existsSync(out)).toBe(false);
    const allBad = file("all-bad.ndjson", "nope\n");
    const skipped = phasor(["quantize", "--model", modelPath, "--calib", allBad, "--out", out, "--skip-bad"]);
    expect(skipped.status).toBe(2);
    expect(skipped.stderr).toMatch(/skipped 1 bad line[\s\S]*no good events to calibrate on/);
    expect(existsSync(out)).toBe(false);
  });

  it("leaves an existing output file as it was when quantize fails", () => {
    const existing = file("existing.plsm", "the previous model");
    const bad = file("bad-time.ndjson", '{"t": 5, "x": [0.1, 0.2]}\n{"t": 4, "x": [0.1, 0.2]}\n');
    const badCalib = phasor(["quantize", "--model", modelPath, "--calib", bad, "--out", existing]);
    expect(badCalib.status).toBe(2);
    expect(badCalib.stderr).toMatch(/time goes backwards/);
    expect(readFileSync(existing, "utf8")).toBe("the previous model");

    const json = JSON.parse(readFileSync(modelPath, "utf8"));
    json.layers[0].tau[3] = -1;
    const invalid = file("invalid.json", JSON.stringify(json));
    const badModel = phasor(["quantize", "--model", invalid, "--calib", eventsPath, "--out", existing]);
    expect(badModel.status).toBe(2);
    expect(badModel.stderr).toMatch(`phasor quantize: ${invalid}: layers[0].tau`);
    expect(readFileSync(existing, "utf8")).toBe("the previous model");
    expect(partialFiles()).toEqual([]);
  });

  it("exits 2 for missing or unusable flags", () => {
    const noOut = phasor(["quantize", "--model", modelPath, "--calib", eventsPath]);
    expect(noOut.status).toBe(2);
    expect(noOut.stderr).toMatch(/^phasor quantize: missing --out M\.plsm/);

    const notPlsm = phasor(["quantize", "--model", modelPath, "--calib", eventsPath, "--out", join(dir, "model.bin")]);
    expect(notPlsm.status).toBe(2);
    expect(notPlsm.stderr).toMatch(/--out .*model\.bin: a quantized model is written as a \.plsm file/);

    const nowhere = join(dir, "no-such-dir", "model.plsm");
    const noDir = phasor(["quantize", "--model", modelPath, "--calib", eventsPath, "--out", nowhere]);
    expect(noDir.status).toBe(2);
    expect(noDir.stderr).toBe(`phasor quantize: --out ${nowhere}: its directory does not exist\n`);

    const twice = phasor(["quantize", "--model", outPath, "--calib", eventsPath, "--out", join(dir, "twice.plsm")]);
    expect(twice.status).toBe(2);
    expect(twice.stderr).toMatch(/already a quantized model/);

    const missingCalib = join(dir, "nope.ndjson");
    const noCalib = phasor(["quantize", "--model", modelPath, "--calib", missingCalib, "--out", join(dir, "x.plsm")]);
    expect(noCalib.status).toBe(2);
    expect(noCalib.stderr).toBe(`phasor quantize: ${missingCalib}: cannot open: no such file\n`);
    expect(partialFiles()).toEqual([]);
  });
});

describe("phasor quantize beyond the spec's tolerances (issue 12: it exited 0 on a summary saying maxAbsY 0.0706)", () => {
  // the tiny example with one readout weight of 3000: h's Q0.15 rounding alone moves y by several 1e-2
  const heavy = () => {
    const json = JSON.parse(readFileSync("examples/tiny-model.json", "utf8"));
    json.readout.V[0][0] = 3000;
    return file("heavy.json", JSON.stringify(json));
  };

  it("fails with exit 1, naming what is beyond which tolerance, prints the summary, and writes nothing", () => {
    const existing = file("heavy-existing.plsm", "the previous model");
    const r = phasor(["quantize", "--model", heavy(), "--calib", "examples/events.ndjson", "--out", existing]);
    expect(r.status).toBe(1);
    const summary = JSON.parse(r.stdout);
    expect(summary.error.maxAbsY).toBeGreaterThan(1e-2);
    expect(r.stderr).toMatch(/^phasor quantize: .*heavy\.json: the quantized model is further from the float64 reference .* than plstm\.md section 3 allows \(maxAbsY [0-9.e-]+ exceeds 0\.01\); .*heavy-existing\.plsm was not written \(--accept-error writes it anyway\)\n$/);
    expect(readFileSync(existing, "utf8")).toBe("the previous model");
    const fresh = join(dir, "heavy-fresh.plsm");
    expect(phasor(["quantize", "--model", heavy(), "--calib", "examples/events.ndjson", "--out", fresh]).status).toBe(1);
    expect(existsSync(fresh)).toBe(false);
    expect(partialFiles()).toEqual([]);
  });

  it("with --accept-error writes the model, prints the summary, and says on stderr what it accepted", () => {
    const out = join(dir, "heavy.plsm");
    const r = phasor(["quantize", "--model", heavy(), "--calib", "examples/events.ndjson", "--out", out, "--accept-error"]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).error.maxAbsY).toBeGreaterThan(1e-2);
    expect(r.stderr).toMatch(/^phasor quantize: written with --accept-error although maxAbsY [0-9.e-]+ exceeds 0\.01\n$/);
    expect(existsSync(out)).toBe(true);
  });
});

describe("phasor run on a damaged or misnamed .plsm", () => {
  it("exits 2 naming the file for a truncated .plsm", () => {
    const bytes = readFileSync(outPath);
    const truncated = file("truncated.plsm", bytes.subarray(0, bytes.length >> 1));
    const r = phasor(["run", "--model", truncated, "--events", eventsPath]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(`phasor run: ${truncated}: `);
    expect(r.stderr).toMatch(/truncated/);
  });

  it("exits 2 for a .plsm holding something else, and for a .json holding a .plsm", () => {
    const notPlsm = file("text.plsm", readFileSync(modelPath));
    const r = phasor(["run", "--model", notPlsm, "--events", eventsPath]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(`phasor run: ${notPlsm}: not a .plsm file`);
    const misnamed = file("binary.json", readFileSync(outPath));
    const m = phasor(["run", "--model", misnamed, "--events", eventsPath]);
    expect(m.status).toBe(2);
    expect(m.stderr).toMatch(`phasor run: ${misnamed}: holds a quantized .plsm model, not a JSON float model`);
  });
});
