import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseModel } from "../host/model/model.js";
import { encodePlsm } from "../host/model/plsm.js";
import { quantize } from "../host/model/quantize.js";
import { phasor } from "./support/cli.js";




function lines(stdout: string): Record<string, unknown>[] {
  expect(stdout.endsWith("\n")).toBe(true);
  return stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
}

/** formats.md's example shape: I = 1, one layer of H = 3, a "last" readout with two labels */
const MODEL = {
  format: "phasor-model",
  version: 1,
  timeUnit: "ms",
  inputSize: 1,
  layers: [
    {
      hiddenSize: 3,
      W: [[0.9], [-0.4], [0.2], [0.5], [0.1], [0.3], [1.2], [-0.7], [0.6], [0.4], [-0.2], [0.8]],
      U: Array.from({ length: 12 }, (_, r) => [0.1 * ((r % 3) - 1), 0.05 * (r % 4), -0.1 * (r % 2)]),
      b: [0, 0.1, -0.1, 1, 1, 1, 0, 0.2, -0.2, 0, 0, 0.1],
      peephole: { i: [0.1, 0, -0.1], f: [0, 0.1, 0], o: [0.2, 0, 0] },
      tau: [5.0, 12.0, 40.0],
      shift: [0.0, 3.1, 17.0],
      rOn: [0.5, 0.5, 0.5],
      alpha: 0,
    },
  ],
  readout: { mode: "last", V: [[0.3, -0.2, 0.1], [-0.3, 0.2, -0.1]], d: [0, 0.01], labels: ["other", "target"] },
};

const EVENTS = [
  '{"t": 0.0, "x": [0.31], "seq": "a"}',
  '{"t": 0.52, "x": [0.77], "seq": "a"}',
  '{"t": 4.1, "x": [-0.5], "seq": "a"}',
  '{"t": 3.0, "x": [-0.2], "seq": 2, "label": 1}',
  '{"t": 9.5, "x": [0.9], "seq": 2, "label": 1}',
  '{"t": 0.0, "x": [0.31], "seq": "c"}',
  '{"t": 0.52, "x": [0.77], "seq": "c"}',
  '{"t": 4.1, "x": [-0.5], "seq": "c"}',
].join("\n");

let dir: string;
let model: string;
let events: string;

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "phasor-cli-"));
  model = file("model.json", JSON.stringify(MODEL));
  events = file("events.ndjson", EVENTS + "\n");
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("phasor command line", () => {
  it("prints usage for --help and for a command's --help", () => {
    const top = phasor(["--help"]);
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/usage: phasor <command>/);
    expect(top.stdout).toMatch(/run/);
    const run = phasor(["run", "--help"]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/usage: phasor run --model M --events E/);
    expect(run.stdout).toMatch(/--engine reference\|float\|fixed/);
  });

  it("names an npm script beside a command in the usage only where package.json's script runs that command", () => {
    const scripts = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> }).scripts;
    const named = [...phasor(["--help"]).stdout.matchAll(/^ {2}(\S+) .*\(npm (?:run )?([\w:-]+)\)$/gm)];
    expect(named.length).toBeGreaterThan(0);
    for (const [line, command, script] of named) expect(scripts[script], line).toMatch(new RegExp(`phasor\\.js ${command}\\b`));
  });

  it("says each flag's default once in every command's --help", () => {
    for (const name of ["run", "train", "bench", "eval", "gen", "quantize", "start"]) {
      const help = phasor([name, "--help"]);
      expect(help.status).toBe(0);
      for (const line of help.stdout.split("\n")) expect(line.match(/\(default/g)?.length ?? 0, `${name}: ${line}`).toBeLessThanOrEqual(1);
    }
    expect(phasor(["train", "--help"]).stdout).toMatch(/--epochs <value> +epochs \(default 70, the paper's\)\n/);
  });

  it("exits 2 without a command or with an unknown one", () => {
    expect(phasor([]).status).toBe(2);
    const unknown = phasor(["fly"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^phasor: unknown command "fly" \(commands: [a-z, -]+\)/);
    for (const name of ["run", "quantize", "eval", "gen", "bench"]) expect(unknown.stderr).toContain(name);
  });

  it("exits 2 naming --model when it is missing", () => {
    const r = phasor(["run", "--events", events]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^phasor run: missing --model/);
    expect(r.stdout).toBe("");
  });

  it("exits 2 naming the flag and the accepted values for a bad enum value", () => {
    const r = phasor(["run", "--model", model, "--events", events, "--engine", "gpu"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('phasor run: --engine must be one of reference, float, fixed (got "gpu")\n');
  });

  it("exits 2 for an unknown flag and for a flag without its value", () => {
    const unknown = phasor(["run", "--model", model, "--events", events, "--fast"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^phasor run: unknown flag --fast \(accepted: --model, --events, --engine/);
    const noValue = phasor(["run", "--model", "--events", events]);
    expect(noValue.status).toBe(2);
    expect(noValue.stderr).toMatch(/^phasor run: --model needs a value/);
  });

  it("exits 2 naming a missing events file or model file", () => {
    const missingEvents = join(dir, "nope.ndjson");
    const r = phasor(["run", "--engine", "reference", "--model", model, "--events", missingEvents]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`phasor run: ${missingEvents}: cannot open: no such file\n`);
    const missingModel = join(dir, "nope.json");
    const m = phasor(["run", "--engine", "reference", "--model", missingModel, "--events", events]);
    expect(m.status).toBe(2);
    expect(m.stderr).toMatch(`phasor run: ${missingModel}: cannot read the model file: no such file`);
  });

  it("exits 2 for a malformed event line, naming the file and the line", () => {
    const bad = file("bad.ndjson", '{"t": 0, "x": [0.1], "seq": "a"}\n\n{"t": 1, "x": [0.1, 0.2], "seq": "a"}\n');
    const r = phasor(["run", "--engine", "reference", "--model", model, "--events", bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`phasor run: ${bad}:3: "x" has 2 numbers, the model's inputSize is 1\n`);
  });

  it("prints the outputs of the good events before a bad line, then exits 2", () => {
    const bad = file("late-bad.ndjson", '{"t": 0, "x": [0.1]}\n{"t": 1, "x": [0.2]}\n{"t": 2, "x": "oops"}\n');
    for (const engine of ["reference", "float"]) {
      const r = phasor(["run", "--engine", engine, "--model", model, "--events", bad]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3: `));
      expect(r.stdout.trimEnd().split("\n").map((line) => JSON.parse(line).i)).toEqual([0, 1]);
    }
  });

  it("refuses inputs beyond the 32-bit float range in every engine alike, and --skip-bad skips them", () => {
    const huge = file("huge.ndjson", '{"t": 0, "x": [0.1]}\n{"t": 1, "x": [1e39]}\n{"t": 2, "x": [0.3]}\n');
    for (const engine of ["reference", "float"]) {
      const strict = phasor(["run", "--engine", engine, "--model", model, "--events", huge]);
      expect(strict.status).toBe(2);
      expect(strict.stderr).toMatch(/:2: "x\[0\]" is beyond the 32-bit float range/);
      const skipping = phasor(["run", "--engine", engine, "--model", model, "--events", huge, "--skip-bad"]);
      expect(skipping.status).toBe(0);
      expect(skipping.stdout.trimEnd().split("\n")).toHaveLength(2);
      expect(skipping.stderr).toMatch(/skipped 1 bad line/);
    }
  });

  it("exits 2 when time goes backwards within a seq", () => {
    const back = file("back.ndjson", '{"t": 5, "x": [0.1], "seq": "a"}\n{"t": 4, "x": [0.1], "seq": "a"}\n');
    const r = phasor(["run", "--engine", "reference", "--model", model, "--events", back]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`phasor run: ${back}:2: time goes backwards within seq "a": t = 4 after t = 5\n`);
  });

  it("prints one line per event with seq, i, t and y, the state reset for every seq", () => {
    const r = phasor(["run", "--engine", "reference", "--model", model, "--events", events]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(out.map((o) => [o.seq, o.i, o.t])).toEqual([
      ["a", 0, 0],
      ["a", 1, 0.52],
      ["a", 2, 4.1],
      [2, 0, 3],
      [2, 1, 9.5],
      ["c", 0, 0],
      ["c", 1, 0.52],
      ["c", 2, 4.1],
    ]);
    for (const o of out) {
      expect(Object.keys(o)).toEqual(["seq", "i", "t", "y"]);
      expect(o.y).toHaveLength(2);
      for (const v of o.y as number[]) expect(Number.isFinite(v)).toBe(true);
    }
    // seq "c" repeats seq "a" from a zero state, so it gives the same outputs, bit for bit
    expect(out.slice(5).map((o) => o.y)).toEqual(out.slice(0, 3).map((o) => o.y));
    expect(out[1].y).not.toEqual(out[0].y);
  });

  it("prints the same for the same events in CSV", () => {
    const csv = file(
      "events.csv",
      "t,x0,seq,label\n0.0,0.31,a,\n0.52,0.77,a,\n4.1,-0.5,a,\n3.0,-0.2,2,1\n9.5,0.9,2,1\n0,0.31,c,\n0.52,0.77,c,\n4.1,-0.5,c,\n",
    );
    const fromCsv = phasor(["run", "--engine", "reference", "--model", model, "--events", csv]);
    const fromNdjson = phasor(["run", "--engine", "reference", "--model", model, "--events", events]);
    expect(fromCsv.status).toBe(0);
    expect(fromCsv.stdout).toBe(fromNdjson.stdout);
  });

  it("with --emit last prints one line per sequence: n, the final y, its argmax and label name", () => {
    const every = lines(phasor(["run", "--engine", "reference", "--model", model, "--events", events]).stdout);
    const r = phasor(["run", "--engine", "reference", "--model", model, "--events", events, "--emit", "last"]);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(out.map((o) => [o.seq, o.n])).toEqual([
      ["a", 3],
      [2, 2],
      ["c", 3],
    ]);
    const lastOf = [every[2], every[4], every[7]];
    out.forEach((o, k) => {
      expect(Object.keys(o)).toEqual(["seq", "n", "y", "label", "name"]);
      expect(o.y).toEqual(lastOf[k].y);
      const y = o.y as number[];
      const best = y[1] > y[0] ? 1 : 0;
      expect(o.label).toBe(best);
      expect(o.name).toBe(MODEL.readout.labels[best]);
    });
  });

  it("with --hidden adds h, the last layer's hidden state", () => {
    const r = phasor(["run", "--engine", "reference", "--model", model, "--events", events, "--hidden"]);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(out).toHaveLength(8);
    for (const o of out) {
      expect(Object.keys(o)).toEqual(["seq", "i", "t", "y", "h"]);
      expect(o.h).toHaveLength(3);
      for (const v of o.h as number[]) expect(Math.abs(v)).toBeLessThan(1);
    }
    // y = V h + d, to the rounding of the printed numbers
    for (const o of out) {
      const h = o.h as number[];
      MODEL.readout.V.forEach((row, r) => {
        const expected = row.reduce((sum, v, j) => sum + v * h[j], MODEL.readout.d[r]);
        expect((o.y as number[])[r]).toBeCloseTo(expected, 12);
      });
    }
  });

  it('reads events from stdin with --events -, printing "seq": null for events without seq', () => {
    const noSeq = EVENTS.split("\n")
      .slice(0, 3)
      .map((line) => line.replace(/, "seq": "a"/, ""))
      .join("\n");
    const r = phasor(["run", "--engine", "reference", "--model", model, "--events", "-"], noSeq);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(out.map((o) => [o.seq, o.i])).toEqual([
      [null, 0],
      [null, 1],
      [null, 2],
    ]);
    const fromFile = lines(phasor(["run", "--engine", "reference", "--model", model, "--events", events]).stdout);
    expect(out.map((o) => o.y)).toEqual(fromFile.slice(0, 3).map((o) => o.y));
    const bad = phasor(["run", "--engine", "reference", "--model", model, "--events", "-"], '{"t": 0, "x": [1]}\nnope\n');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^phasor run: stdin:2: not JSON/);
  });

  it("with --skip-bad skips bad lines and counts them on stderr", () => {
    const mixed = file(
      "mixed.ndjson",
      '{"t": 0, "x": [0.1], "seq": "a"}\n{"t": 1, "x": "oops", "seq": "a"}\n{"t": 2, "x": [0.3], "seq": "a"}\nnot json\n',
    );
    const r = phasor(["run", "--engine", "reference", "--model", model, "--events", mixed, "--skip-bad"]);
    expect(r.status).toBe(0);
    expect(lines(r.stdout).map((o) => [o.i, o.t])).toEqual([
      [0, 0],
      [1, 2],
    ]);
    expect(r.stderr).toBe(
      `phasor run: skipped 2 bad lines (first: ${mixed}:2: "x" must be an array of 1 numbers, got "oops")\n`,
    );
  });

  it("runs a JSON model on the float engine by default, within 1e-4 of the reference", () => {
    const float = phasor(["run", "--engine", "float", "--model", model, "--events", events, "--hidden"]);
    expect(float.stderr).toBe("");
    expect(float.status).toBe(0);
    expect(phasor(["run", "--model", model, "--events", events, "--hidden"]).stdout).toBe(float.stdout);
    const reference = lines(phasor(["run", "--engine", "reference", "--model", model, "--events", events, "--hidden"]).stdout);
    const out = lines(float.stdout);
    expect(out.map((o) => [o.seq, o.i, o.t])).toEqual(reference.map((o) => [o.seq, o.i, o.t]));
    out.forEach((o, k) => {
      for (const field of ["y", "h"]) {
        (o[field] as number[]).forEach((v, j) => expect(Math.abs(v - (reference[k][field] as number[])[j])).toBeLessThan(1e-4));
      }
    });
  });

  // before: the reference engine ran and said nothing of the --simd on it could not honour
  it("exits 2 for --simd on with the reference engine, which is no wasm build", () => {
    for (const name of ["run", "eval"]) {
      const r = phasor([name, "--engine", "reference", "--simd", "on", "--model", model, "--events", events]);
      expect(r.stderr).toBe(`phasor ${name}: --simd on: the reference engine is float64 JavaScript, not a wasm build (--simd picks the float and fixed engines' build)\n`);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe("");
    }
    expect(phasor(["run", "--engine", "reference", "--simd", "off", "--model", model, "--events", events]).status).toBe(0);
  });

  // before: bench --operators ran its count and never said that --seconds had no part in it
  it("exits 2 for bench --seconds with --operators, which counts a fixed number of events", () => {
    const r = phasor(["bench", "--operators", "--seconds", "3"]);
    expect(r.stderr).toBe("phasor bench: --seconds times the engines; --operators counts operators over a fixed number of events instead: give one of them\n");
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(phasor(["bench", "--help"]).stdout).toMatch(/--seconds <value> +measure each engine and configuration for at least this long \(default 1\)\n/);
  });

  it("exits 2 for --engine fixed on a JSON model, pointing to phasor quantize", () => {
    const r = phasor(["run", "--engine", "fixed", "--model", model, "--events", events]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`phasor run: ${model}: the fixed engine runs a quantized model (.plsm); make one with \`phasor quantize\`\n`);
  });

  // before: a float .plsm was told that the fixed engine runs a .plsm, and quantize that it was already quantized
  it("says that a float .plsm holds a float model, for --engine fixed and for quantize", () => {
    const floatPlsm = join(dir, "float.plsm");
    writeFileSync(floatPlsm, encodePlsm(parseModel(MODEL, "model")));
    const r = phasor(["run", "--engine", "fixed", "--model", floatPlsm, "--events", events]);
    expect(r.stderr).toBe(`phasor run: ${floatPlsm}: a float model (a .plsm of kind 2, not quantized); the fixed engine runs a quantized one: make one with \`phasor quantize\`\n`);
    expect(r.status).toBe(2);
    const q = phasor(["quantize", "--model", floatPlsm, "--calib", events, "--out", join(dir, "q.plsm")]);
    expect(q.stderr).toBe(`phasor quantize: --model ${floatPlsm}: a float model in a .plsm (kind 2); quantize takes a float model as JSON (.json)\n`);
    expect(q.status).toBe(2);
  });

  it("with --time-policy clamp runs an earlier event at the previous time instead of failing", () => {
    const back = file("clamp.ndjson", '{"t": 5, "x": [0.1]}\n{"t": 4, "x": [0.7]}\n');
    const same = file("same.ndjson", '{"t": 5, "x": [0.1]}\n{"t": 5, "x": [0.7]}\n');
    const clamped = phasor(["run", "--engine", "reference", "--model", model, "--events", back, "--time-policy", "clamp"]);
    expect(clamped.status).toBe(0);
    const atSameTime = lines(phasor(["run", "--engine", "reference", "--model", model, "--events", same]).stdout);
    expect(lines(clamped.stdout).map((o) => o.y)).toEqual(atSameTime.map((o) => o.y));
    // and it prints the time the event ran at, as the gateway publishes it (docs/gateway.md), not its own t
    expect(lines(clamped.stdout).map((o) => o.t)).toEqual([5, 5]);
    // a new seq starts its own clock: its first event is not clamped to the previous seq's time
    const twoSeqs = file("two-seqs.ndjson", '{"t": 5, "x": [0.1], "seq": "a"}\n{"t": 4, "x": [0.7], "seq": "a"}\n{"t": 1, "x": [0.7], "seq": "b"}\n');
    const both = phasor(["run", "--model", model, "--events", twoSeqs, "--time-policy", "clamp"]);
    expect(lines(both.stdout).map((o) => o.t)).toEqual([5, 5, 1]);
  });
});

// before: an event the engine refused (here the fixed engine's clock, 2^62 ticks) lost the outputs of every event
// before it that had not yet been written, which phasor-wasi prints
describe("phasor run on an event the engine refuses", () => {
  it("prints the outputs of every event before it, as a file cut there gives them, then exits 2 naming its line", () => {
    const plsm = join(dir, "refusing.plsm");
    const calibration = [{ t: Float64Array.from([0, 0.5, 4]), x: Float64Array.from([0.3, 0.7, -0.5]) }];
    writeFileSync(plsm, quantize(parseModel(MODEL, "model"), calibration, "model").bytes);
    const inOrder = ['{"t": 0, "x": [0.31], "seq": "a"}', '{"t": 0.52, "x": [0.77], "seq": "a"}', '{"t": 0, "x": [0.2], "seq": "b"}', '{"t": 3, "x": [-0.2], "seq": "b"}'];
    // with clamp an earlier event runs, and is printed, at its predecessor's time
    const clamped = [...inOrder, '{"t": 2, "x": [0.4], "seq": "b"}'];
    for (const [good, extra] of [[inOrder, ["--hidden"]], [clamped, ["--time-policy", "clamp"]]]) {
      const refused = file("refused.ndjson", [...good, '{"t": 1e300, "x": [0.9], "seq": "b"}', '{"t": 1e301, "x": [0.9], "seq": "b"}'].join("\n") + "\n");
      const r = phasor(["run", "--model", plsm, "--events", refused, ...extra]);
      expect(r.stderr).toMatch(new RegExp(`^phasor run: ${refused.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:${good.length + 1}: event at t=1e\\+300: more than 2\\^62 ticks`));
      expect(r.status).toBe(2);
      const cut = phasor(["run", "--model", plsm, "--events", file("cut.ndjson", good.join("\n") + "\n"), ...extra]);
      expect(cut.status).toBe(0);
      expect(r.stdout).toBe(cut.stdout);
    }
    // with --skip-bad the lines skipped before it are still counted
    const skipping = file("skipping.ndjson", 'nope\n{"t": 0, "x": [0.31]}\n{"t": 1e300, "x": [0.9]}\n');
    const r = phasor(["run", "--model", plsm, "--events", skipping, "--skip-bad"]);
    expect(r.stderr).toMatch(new RegExp(`^phasor run: skipped 1 bad line \\(first: .*skipping\\.ndjson:1: not JSON.*\\)\nphasor run: .*skipping\\.ndjson:3: event at t=1e\\+300`));
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(1);
    expect(r.status).toBe(2);
  });
});

describe("phasor run on extreme timestamps", () => {
  it("finishes on t = 1e300 in every engine (the phase seed's reduction is bounded)", () => {
    for (const engine of ["float", "reference"]) {
      const run = spawnSync(process.execPath, ["node_modules/tsx/dist/cli.mjs", "tools/cli/phasor.ts", "run", "--model", "examples/tiny-model.json", "--events", "-", "--engine", engine], {
        input: '{"t":1e300,"x":[0.5]}\n{"t":1e300,"x":[0.1]}\n',
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(run.signal).toBeNull();
      expect(run.status).toBe(0);
      expect(run.stdout.trimEnd().split("\n")).toHaveLength(2);
    }
  });
});
