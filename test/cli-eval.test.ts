/**
 * `phasor eval` (formats.md, "Commands"): accuracy for classifiers and MSE for regressors, computed on the
 * sequences of a labelled event file. Models with a constant readout (V = 0) make the expected numbers
 * independent of the engine: they follow from the labels alone.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { phasor } from "./support/cli.js";
import { modelToJson, type FloatModel } from "../host/model/model.js";
import { quantize } from "../host/model/quantize.js";
import { generate } from "../host/training/tasks.js";
import { Rng, randomModel } from "./support/random.js";

let dir: string;

function constantModel(inputSize: number, d: number[]): FloatModel {
  const model = randomModel(new Rng(3), { inputSize, hidden: [5], peephole: false, rOn: 0.2, outputs: d.length, mode: "last" });
  model.readout.V.fill(0);
  model.readout.d.set(d);
  return model;
}

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function eventsOf(samples: { t: Float64Array; x: Float64Array; label: number }[], inputSize: number, withLabel = true): string {
  let text = "";
  samples.forEach((s, seq) => {
    for (let e = 0; e < s.t.length; e++) {
      const x = Array.from(s.x.subarray(e * inputSize, (e + 1) * inputSize));
      text += JSON.stringify({ t: s.t[e], x, seq, ...(withLabel ? { label: s.label } : {}) }) + "\n";
    }
  });
  return text;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "phasor-eval-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("phasor eval", () => {
  it("scores a classifier by the argmax after each sequence's last event", () => {
    const samples = generate("freq1-async", 40, 11);
    const events = write("freq.ndjson", eventsOf(samples, 1));
    const zeros = samples.filter((s) => s.label === 0).length;
    expect(zeros).toBeGreaterThan(0);
    expect(zeros).toBeLessThan(samples.length);
    // y = d = [1, 0] always: class 0 is predicted for every sequence
    const model = write("always-0.json", JSON.stringify(modelToJson(constantModel(1, [1, 0]))));
    for (const engine of ["reference", "float"]) {
      const run = phasor(["eval", "--model", model, "--events", events, "--engine", engine]);
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      const result = JSON.parse(run.stdout);
      expect(result.accuracy).toBeCloseTo(zeros / samples.length, 12);
      expect(result.sequences).toBe(samples.length);
      expect(result.events).toBe(samples.reduce((n, s) => n + s.t.length, 0));
      expect(result.unitUpdateFraction).toBeGreaterThan(0);
      expect(result.unitUpdateFraction).toBeLessThan(0.5);
    }
  });

  it("scores a regressor by the squared error at the end of each sequence", () => {
    const samples = generate("adding", 6, 5);
    const events = write("adding.ndjson", eventsOf(samples, 2));
    const model = write("half.json", JSON.stringify(modelToJson(constantModel(2, [0.25]))));
    const run = phasor(["eval", "--model", model, "--events", events, "--engine", "reference"]);
    expect(run.status).toBe(0);
    const expected = samples.reduce((sum, s) => sum + (0.25 - s.label) ** 2, 0) / samples.length;
    expect(JSON.parse(run.stdout).mse).toBeCloseTo(expected, 12);
  });

  it("exits 2 naming the problem for unlabelled events, labels outside the classes, or no events", () => {
    const samples = generate("freq1-async", 3, 1);
    const model = write("m.json", JSON.stringify(modelToJson(constantModel(1, [1, 0]))));
    const unlabelled = phasor(["eval", "--model", model, "--events", write("u.ndjson", eventsOf(samples, 1, false))]);
    expect(unlabelled.status).toBe(2);
    expect(unlabelled.stderr).toMatch(/u\.ndjson:1-\d+: seq 0 has no label/);
    const wrong = samples.map((s) => ({ ...s, label: 7 }));
    const outside = phasor(["eval", "--model", model, "--events", write("w.ndjson", eventsOf(wrong, 1))]);
    expect(outside.status).toBe(2);
    expect(outside.stderr).toMatch(/label 7, not a class of this model \(0\.\.1\)/);
    const empty = phasor(["eval", "--model", model, "--events", write("e.ndjson", "")]);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/no events to evaluate on/);
  });

  it("refuses a sequence whose events give it two labels, naming both lines, and takes one label given on some events only", () => {
    // before, the last label given was scored against, without a word: a file labelled per event, or whose seq
    // column ran two sequences together, was scored as if that were the sequence's label
    const model = write("two.json", JSON.stringify(modelToJson(constantModel(1, [1, 0]))));
    const lines = ['{"t":0,"x":[0.1],"seq":"a","label":0}', '{"t":1,"x":[0.2],"seq":"a"}', '{"t":2,"x":[0.3],"seq":"a","label":1}'];
    const ndjson = write("two-labels.ndjson", lines.join("\n") + "\n");
    const run = phasor(["eval", "--model", model, "--events", ndjson]);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `phasor eval: ${ndjson}:3: seq "a" is given label 1 here and label 0 at line 1: a sequence has one label, its class or target, and eval scores its output after its last event against it\n`,
    );
    const csv = write("two-labels.csv", "t,x0,seq,label\n0,0.1,7,1\n1,0.2,7,1\n2,0.3,8,0\n3,0.4,8,1\n");
    const fromCsv = phasor(["eval", "--model", model, "--events", csv]);
    expect(fromCsv.status).toBe(2);
    expect(fromCsv.stderr).toContain(`${csv}:5: seq 8 is given label 1 here and label 0 at line 4:`);
    // the same label again, or on some events only, is one label: y = [1, 0] predicts 0 for both sequences
    const once = write("one-label.ndjson", [...lines.slice(0, 2), '{"t":2,"x":[0.3],"seq":"a","label":0}', '{"t":0,"x":[0.1],"seq":"b"}', '{"t":1,"x":[0.1],"seq":"b","label":1}'].join("\n") + "\n");
    const scored = phasor(["eval", "--model", model, "--events", once]);
    expect(scored.stderr).toBe("");
    const noSeq = write("two-labels-no-seq.ndjson", '{"t":0,"x":[0.1],"label":1}\n{"t":1,"x":[0.2],"label":0}\n');
    expect(phasor(["eval", "--model", model, "--events", noSeq]).stderr).toContain(`${noSeq}:2: the events without seq are given label 0 here and label 1 at line 1:`);
    expect(scored.status).toBe(0);
    expect(JSON.parse(scored.stdout)).toMatchObject({ accuracy: 0.5, sequences: 2 });
  });

  // before: the count of skipped lines was printed only after a successful score, so a file of bad lines said only
  // "no events to evaluate on"
  it("with --skip-bad says what it skipped also when nothing is left to score, or a sequence cannot be scored", () => {
    const model = write("skip.json", JSON.stringify(modelToJson(constantModel(1, [1, 0]))));
    const allBad = write("all-bad.ndjson", "nope\n");
    const none = phasor(["eval", "--model", model, "--events", allBad, "--skip-bad"]);
    expect(none.stderr).toBe(`phasor eval: skipped 1 bad line (first: ${allBad}:1: not JSON: Unexpected token 'o', "nope" is not valid JSON)\nphasor eval: ${allBad}: no good events to evaluate on (every event line was bad)\n`);
    expect(none.status).toBe(2);
    const unlabelled = write("skip-unlabelled.ndjson", 'nope\n{"t":0,"x":[0.1]}\n');
    const r = phasor(["eval", "--model", model, "--events", unlabelled, "--skip-bad"]);
    expect(r.stderr).toMatch(/^phasor eval: skipped 1 bad line .*\nphasor eval: .*skip-unlabelled\.ndjson:2: the events without seq have no label/);
    expect(r.status).toBe(2);
  });

  // before: "sequence 1 has no label" and "batch event 1 at t=1e+300: ...", with no line, and the sequence counted
  // from 0 in a file whose seqs are named otherwise
  it("names the lines and the seq of a sequence it cannot score, and the line of an event the engine refuses", () => {
    const classifier = constantModel(1, [1, 0]);
    const model = write("c.json", JSON.stringify(modelToJson(classifier)));
    const unlabelled = write("partly.ndjson", '{"t":0,"x":[0.1],"seq":"a","label":1}\n\n{"t":0,"x":[0.1],"seq":"b"}\n{"t":1,"x":[0.2],"seq":"b"}\n');
    const noLabel = phasor(["eval", "--model", model, "--events", unlabelled]);
    expect(noLabel.stderr).toBe(`phasor eval: ${unlabelled}:3-4: seq "b" has no label: eval needs labelled events\n`);
    expect(noLabel.status).toBe(2);
    const outside = write("outside.ndjson", '{"t":0,"x":[0.1]}\n{"t":1,"x":[0.2],"label":2}\n');
    const notAClass = phasor(["eval", "--model", model, "--events", outside]);
    expect(notAClass.stderr).toBe(`phasor eval: ${outside}:1-2: the events without seq have label 2, not a class of this model (0..1)\n`);
    expect(notAClass.status).toBe(2);

    // the fixed engine's clock counts 2^62 ticks from a stream's first event
    const plsm = join(dir, "c.plsm");
    writeFileSync(plsm, quantize(classifier, generate("freq1-async", 4, 2), "c.json").bytes);
    const far = write("far.ndjson", '{"t":0,"x":[0.1],"seq":7,"label":0}\n{"t":0,"x":[0.1],"seq":8,"label":0}\n{"t":1e300,"x":[0.2],"seq":8,"label":0}\n');
    const refused = phasor(["eval", "--model", plsm, "--events", far]);
    expect(refused.stderr).toMatch(new RegExp(`^phasor eval: ${far.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3: event at t=1e\\+300: more than 2\\^62 ticks`));
    expect(refused.status).toBe(2);
  });
});
