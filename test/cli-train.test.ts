/**
 * `phasor train` (formats.md, "Commands"): JSON lines per epoch and a final one, the best model and its learning
 * curve written next to --out, a checkpoint that --resume continues from epoch for epoch, and clear refusals.
 * The runs are tiny (8 units, a few hundred sequences): this checks the command, not the learning.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseModelText } from "../host/model/model.js";
import { phasor } from "./support/cli.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "phasor-train-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tiny = ["--task", "freq1-async", "--hidden", "8", "--per-epoch", "96", "--validation", "40", "--batch", "16"];

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
}

describe("phasor train", () => {
  it("prints a line per epoch and a final one, and writes the model, its curve and a checkpoint", () => {
    const out = join(dir, "m.json");
    const run = phasor(["train", ...tiny, "--epochs", "2", "--seed", "3", "--out", out]);
    expect(run.stderr).toMatch(/epoch 2\/2: loss [0-9.]+, val accuracy [0-9.]+ %/);
    expect(run.status).toBe(0);
    const lines = jsonLines(run.stdout);
    expect(lines).toHaveLength(3);
    expect(lines.slice(0, 2).map((l) => l.epoch)).toEqual([1, 2]);
    for (const l of lines.slice(0, 2)) {
      expect(l.loss).toBeGreaterThan(0);
      expect(l.valAccuracy).toBeGreaterThanOrEqual(0);
      expect(l.valAccuracy).toBeLessThanOrEqual(1);
    }
    const final = lines[2];
    expect(final.final).toBe(true);
    expect(final.valAccuracy).toBe(Math.max(lines[0].valAccuracy as number, lines[1].valAccuracy as number));
    const model = parseModelText(readFileSync(out, "utf8"), out);
    expect(model.layers[0].hiddenSize).toBe(8);
    expect(model.readout.labels).toEqual(["other", "target"]);
    expect(readFileSync(join(dir, "m.svg"), "utf8")).toMatch(/^<svg /);
    expect(existsSync(join(dir, "m.checkpoint.json"))).toBe(true);
    // the exported model runs in the engines
    const gen = phasor(["gen", "--task", "freq1-async", "--n", "5", "--seed", "9"]);
    const events = join(dir, "e.ndjson");
    writeFileSync(events, gen.stdout);
    const scored = phasor(["eval", "--model", out, "--events", events]);
    expect(scored.status).toBe(0);
    expect(JSON.parse(scored.stdout).sequences).toBe(5);
  });

  // with --average the checkpoint carries the parameter average too, and the resumed run must continue it; a run
  // that skips closed units must go on skipping them
  it.each([[], ["--average", "0.9"], ["--set", "skipClosed=true"]])("resumes from its checkpoint exactly where an uninterrupted run would be %j", (...extra: string[]) => {
    const args = [...tiny, ...extra, "--seed", "4"];
    const whole = phasor(["train", ...args, "--epochs", "3", "--out", join(dir, "whole.json")]);
    expect(whole.status).toBe(0);
    const first = phasor(["train", ...args, "--epochs", "2", "--out", join(dir, "part.json")]);
    expect(first.status).toBe(0);
    const resumed = phasor(["train", ...args, "--epochs", "3", "--out", join(dir, "part.json"), "--resume", join(dir, "part.checkpoint.json")]);
    expect(resumed.stderr).not.toMatch(/epoch 1\/3/);
    expect(resumed.status).toBe(0);
    const a = jsonLines(whole.stdout)[2];
    const b = jsonLines(resumed.stdout)[0];
    expect(b.epoch).toBe(3);
    expect(b.loss).toBe(a.loss);
    expect(b.valAccuracy).toBe(a.valAccuracy);
    expect(b.rawValAccuracy).toBe(a.rawValAccuracy);
    expect(b.rawValAccuracy === undefined).toBe(!extra.includes("--average"));
    expect(readFileSync(join(dir, "part.json"), "utf8")).toBe(readFileSync(join(dir, "whole.json"), "utf8"));
  });

  it("refuses to resume with settings that would change the run, naming them", () => {
    const first = phasor(["train", ...tiny, "--epochs", "1", "--seed", "5", "--out", join(dir, "r.json")]);
    expect(first.status).toBe(0);
    const changed = phasor(["train", ...tiny, "--epochs", "2", "--seed", "9", "--lr", "0.5", "--out", join(dir, "r.json"), "--resume", join(dir, "r.checkpoint.json")]);
    expect(changed.status).toBe(2);
    expect(changed.stderr).toMatch(/cannot change seed 9 \(the checkpoint has 5\), lr 0\.5 \(the checkpoint has 0\.003\)/);
    // flags left at their defaults take the checkpoint's values: --hidden is not repeated here
    const plain = phasor(["train", "--task", "freq1-async", "--epochs", "2", "--out", join(dir, "r.json"), "--resume", join(dir, "r.checkpoint.json")]);
    expect(plain.stderr).toMatch(/epoch 2\/2/);
    expect(plain.status).toBe(0);
    expect(parseModelText(readFileSync(join(dir, "r.json"), "utf8"), "r.json").layers[0].hiddenSize).toBe(8);
  });

  it("starts the periods where --set logTauRange says, and keeps the range in the checkpoint", () => {
    const run = phasor(["train", ...tiny, "--epochs", "1", "--set", "logTauRange=4,5", "--set", "timeLrScale=0", "--out", join(dir, "t.json")]);
    expect(run.status).toBe(0);
    const tau = parseModelText(readFileSync(join(dir, "t.json"), "utf8"), "t.json").layers[0].tau;
    for (const t of tau) {
      expect(t).toBeGreaterThanOrEqual(Math.exp(4) * (1 - 1e-6));
      expect(t).toBeLessThanOrEqual(Math.exp(5) * (1 + 1e-6));
    }
    expect(JSON.parse(readFileSync(join(dir, "t.checkpoint.json"), "utf8")).settings.logTauRange).toEqual([4, 5]);
  });

  it("learns r_on by default on freq1 (--fixed-r-on keeps it): each epoch's line says where it went, and the model carries it", () => {
    const out = join(dir, "r.json");
    const run = phasor(["train", ...tiny, "--epochs", "2", "--r-on", "0.2", "--lr", "0.01", "--out", out]);
    expect(run.status).toBe(0);
    const epochs = jsonLines(run.stdout).filter((l) => !l.final) as { rOn?: { mean: number; min: number; max: number } }[];
    expect(epochs).toHaveLength(2);
    for (const { rOn } of epochs) {
      expect(rOn).toBeDefined();
      expect(rOn!.min).toBeGreaterThanOrEqual(0.01);
      expect(rOn!.max).toBeLessThanOrEqual(1);
      expect(rOn!.max - rOn!.min).toBeGreaterThan(1e-4);
    }
    const rOn = Array.from(parseModelText(readFileSync(out, "utf8"), "r.json").layers[0].rOn);
    expect(rOn.some((r) => Math.abs(r - 0.2) > 1e-4)).toBe(true);
    const checkpoint = JSON.parse(readFileSync(join(dir, "r.checkpoint.json"), "utf8"));
    expect(checkpoint.settings.trainROn).toBe(true);
    expect(checkpoint.version).toBe(2);
    // --train-r-on says the default; --fixed-r-on keeps r_on where --r-on puts it, and no line reports it
    const explicit = phasor(["train", ...tiny, "--epochs", "2", "--r-on", "0.2", "--lr", "0.01", "--train-r-on", "--out", join(dir, "r2.json")]);
    const learned = (stdout: string) => jsonLines(stdout).filter((l) => !l.final).map(({ loss, valAccuracy, rOn }) => ({ loss, valAccuracy, rOn }));
    expect(learned(explicit.stdout)).toEqual(learned(run.stdout));
    const fixed = phasor(["train", ...tiny, "--epochs", "1", "--r-on", "0.2", "--fixed-r-on", "--out", join(dir, "f.json")]);
    expect(fixed.status).toBe(0);
    expect(jsonLines(fixed.stdout)[0].rOn).toBeUndefined();
    expect(Array.from(parseModelText(readFileSync(join(dir, "f.json"), "utf8"), "f.json").layers[0].rOn).every((r) => r === 0.2)).toBe(true);
    // freq2 and adding keep r_on fixed unless asked
    const adding = phasor(["train", "--task", "adding", "--hidden", "4", "--per-epoch", "8", "--validation", "4", "--batch", "8", "--epochs", "1", "--out", join(dir, "a.json")]);
    expect(adding.status).toBe(0);
    expect(jsonLines(adding.stdout)[0].rOn).toBeUndefined();
    expect(JSON.parse(readFileSync(join(dir, "a.checkpoint.json"), "utf8")).settings).toMatchObject({ trainROn: false, tauDirect: false, lr: 0.001, lrDecay: 1, timeLrScale: 1 });
    // a resumed run cannot switch the training of r_on off, nor both be asked at once
    const resumed = phasor(["train", ...tiny, "--epochs", "3", "--fixed-r-on", "--resume", join(dir, "r.checkpoint.json"), "--out", out]);
    expect(resumed.status).toBe(2);
    expect(resumed.stderr).toMatch(/cannot change trainROn false/);
    const both = phasor(["train", ...tiny, "--train-r-on", "--fixed-r-on", "--out", join(dir, "x.json")]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--train-r-on or --fixed-r-on, not both/);
  });

  it("trains freq1 by default as docs/RESULTS.md's session 6 measured, with Adam and with SGD, and every part of it can be set", () => {
    const run = phasor(["train", ...tiny, "--epochs", "1", "--out", join(dir, "d.json")]);
    expect(run.status).toBe(0);
    const settings = JSON.parse(readFileSync(join(dir, "d.checkpoint.json"), "utf8")).settings;
    expect(settings).toMatchObject({ optimizer: "adam", trainROn: true, rOn: 0.05, tauDirect: true, lr: 0.003, lrDecay: 0.97, timeLrScale: 0.1, epochs: 1 });
    const asked = phasor(["train", ...tiny, "--epochs", "1", "--set", "tauDirect=false", "--set", "lrDecay=1", "--lr", "0.001", "--set", "timeLrScale=1", "--fixed-r-on", "--out", join(dir, "e.json")]);
    expect(asked.status).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "e.checkpoint.json"), "utf8")).settings).toMatchObject({ trainROn: false, tauDirect: false, lr: 0.001, lrDecay: 1, timeLrScale: 1 });
    // --lr-scale multiplies the task's default rate
    const scaled = phasor(["train", ...tiny, "--epochs", "1", "--lr-scale", "2", "--out", join(dir, "s.json")]);
    expect(jsonLines(scaled.stdout).at(-1)!.lr).toBe(0.006);
    const sgd = phasor(["train", ...tiny, "--epochs", "1", "--optimizer", "sgd", "--out", join(dir, "g.json")]);
    expect(sgd.status).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "g.checkpoint.json"), "utf8")).settings).toMatchObject({
      optimizer: "sgd", trainROn: true, tauDirect: false, lr: 0.5, lrDecay: 0.97, timeLrScale: 1e-4, rOnLrScale: 0.01, guardProbeStep: 0.03, average: 0,
    });
  });

  it("continues a version-1 checkpoint with r_on fixed, and refuses one that trained r_on through its logit, saying why", () => {
    const first = phasor(["train", ...tiny, "--epochs", "1", "--seed", "6", "--fixed-r-on", "--out", join(dir, "v1.json")]);
    expect(first.status).toBe(0);
    const path = join(dir, "v1.checkpoint.json");
    const saved = JSON.parse(readFileSync(path, "utf8"));
    // what a version-1 checkpoint of a fixed-r_on run looked like: the same fields, without the ones added since
    const { tauDirect: _t, weightInit: _w, ...older } = saved.settings;
    writeFileSync(path, JSON.stringify({ ...saved, version: 1, settings: older }));
    const resumed = phasor(["train", ...tiny, "--epochs", "2", "--seed", "6", "--resume", path, "--out", join(dir, "v1.json")]);
    expect(resumed.stderr).toMatch(/epoch 2\/2/);
    expect(resumed.status).toBe(0);
    expect(JSON.parse(readFileSync(path, "utf8")).version).toBe(2);
    writeFileSync(path, JSON.stringify({ ...saved, version: 1, settings: { ...older, trainROn: true } }));
    const logit = phasor(["train", ...tiny, "--epochs", "2", "--seed", "6", "--resume", path, "--out", join(dir, "v1.json")]);
    expect(logit.status).toBe(2);
    expect(logit.stderr).toMatch(/version-1 checkpoint trains r_on through its logit; the trainer now learns r_on itself .* cannot continue that run/);
    writeFileSync(path, JSON.stringify({ ...saved, version: 3 }));
    const future = phasor(["train", ...tiny, "--epochs", "2", "--resume", path, "--out", join(dir, "v1.json")]);
    expect(future.status).toBe(2);
    expect(future.stderr).toMatch(/not a phasor training checkpoint \(version 1 or 2\)/);
  });

  it("probes the curvature as far as --set guardProbeStep says, and keeps the length in the checkpoint", () => {
    const sgd = [...tiny, "--optimizer", "sgd", "--epochs", "1", "--seed", "2"];
    const lambdaMax = (args: string[], name: string) => {
      const run = phasor(["train", ...sgd, ...args, "--out", join(dir, name)]);
      expect(run.status).toBe(0);
      return (jsonLines(run.stdout)[0].guard as { lambdaMax: number }).lambdaMax;
    };
    const usual = lambdaMax([], "p1.json");
    const explicit = lambdaMax(["--set", "guardProbeStep=0.03"], "p2.json");
    const long = lambdaMax(["--set", "guardProbeStep=0.3"], "p3.json");
    // on freq1 with SGD the default is 0.03: saying so changes nothing; ten times longer probes read other differences
    expect(explicit).toBe(usual);
    expect(long).not.toBe(usual);
    expect(JSON.parse(readFileSync(join(dir, "p3.checkpoint.json"), "utf8")).settings.guardProbeStep).toBe(0.3);
    expect(JSON.parse(readFileSync(join(dir, "p1.checkpoint.json"), "utf8")).settings.guardProbeStep).toBe(0.03);
    // elsewhere the guard's own default (3e-3) holds, and the checkpoint leaves it unsaid
    const adding = phasor(["train", "--task", "adding", "--hidden", "4", "--per-epoch", "16", "--validation", "4", "--batch", "8", "--epochs", "1", "--optimizer", "sgd", "--out", join(dir, "p4.json")]);
    expect(adding.status).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "p4.checkpoint.json"), "utf8")).settings.guardProbeStep).toBeUndefined();
  });

  // before: --help promised the plot of lambda_B beside every model, where only SGD under the guard measures lambda_B
  it("draws the guard's plot (.guard.svg) only for SGD under the guard, as --help says", () => {
    expect(phasor(["train", "--help"]).stdout.replace(/\s+/g, " ")).toMatch(/\(\.guard\.svg; with SGD under the guard, the one that measures lambda_B\)/);
    for (const [name, extra, drawn] of [["adam", [], false], ["sgd", ["--optimizer", "sgd"], true], ["unguarded", ["--optimizer", "sgd", "--guard", "off"], false]] as const) {
      const run = phasor(["train", ...tiny, ...extra, "--epochs", "1", "--out", join(dir, `plot-${name}.json`)]);
      expect(run.status, name).toBe(0);
      expect(existsSync(join(dir, `plot-${name}.guard.svg`)), name).toBe(drawn);
    }
  });

  // before: the files next to --out were first written after an epoch (the checkpoint) or after the whole run (the
  // curve, over a model it had already replaced), so a run of hours could end with exit 2 and half its files
  it("checks every file it writes next to --out before any training, and leaves an existing model as it was", () => {
    for (const [name, extra] of [["m.svg", []], ["m.checkpoint.json", []], ["m.guard.svg", ["--optimizer", "sgd"]]] as const) {
      const folder = mkdtempSync(join(dir, "companions-"));
      const out = join(folder, "m.json");
      writeFileSync(out, "the model of an earlier run\n");
      mkdirSync(join(folder, name));
      const run = phasor(["train", ...tiny, ...extra, "--epochs", "1", "--out", out]);
      expect(run.stderr, name).toMatch(new RegExp(`^phasor train: .*${name.replace(/\./g, "\\.")}: cannot write there: it is a directory\n$`));
      expect(run.status, name).toBe(2);
      expect(run.stdout, name).toBe("");
      expect(readFileSync(out, "utf8"), name).toBe("the model of an earlier run\n");
    }
  });

  // before: each of these ran to the end, and nothing said that the setting had no part in the run
  it("refuses a setting that the run's other settings leave without effect, before any training", () => {
    const adding = ["--task", "adding", "--hidden", "4", "--per-epoch", "16", "--validation", "4", "--batch", "8"];
    const cases: [string[], string][] = [
      [[...tiny, "--set", "momentum=0.5"], "momentum would change nothing: it is SGD's, and the optimizer is Adam (--optimizer adam), which keeps moments of its own"],
      [[...adding, "--stop-at", "0.9"], "stopAtAccuracy (--stop-at) would change nothing: adding is a regression task, scored by its validation MSE, never by accuracy"],
      [[...tiny, "--set", "stopAtStreak=2"], "stopAtStreak would change nothing: no stopAtAccuracy (--stop-at) is given for a streak to reach"],
      [[...tiny, "--fixed-r-on", "--set", "rOnLrScale=0.5"], "rOnLrScale would change nothing: r_on is not trained in this run (--train-r-on trains it)"],
      [[...tiny, "--optimizer", "sgd", "--guard", "off", "--set", "guardClip=3"], "guardClip would change nothing: the stability guard is off (--guard off)"],
      [[...tiny, "--set", "guardEvery=2"], "guardEvery would change nothing: only SGD's guard checks the curvature; with Adam only its rollback acts"],
      // the cap's memory of lambda_B that a rollback would restore is filled by curvature checks, which Adam's guard
      // makes none of: before, this was taken and did nothing
      [[...tiny, "--set", "guardRestoreWorst=true"], "guardRestoreWorst would change nothing: only SGD's guard checks the curvature; with Adam only its rollback acts"],
    ];
    for (const [args, message] of cases) {
      const run = phasor(["train", ...args, "--epochs", "1", "--out", join(dir, "inert.json")]);
      expect(run.stderr, args.join(" ")).toBe(`phasor train: ${message}\n`);
      expect(run.status).toBe(2);
      expect(run.stdout).toBe("");
    }
    expect(existsSync(join(dir, "inert.json"))).toBe(false);
    // where they act, the same settings are taken
    for (const args of [["--optimizer", "sgd", "--set", "momentum=0.5", "--set", "guardEvery=2"], ["--stop-at", "0.99", "--set", "stopAtStreak=2"], ["--set", "guardClip=3"]]) {
      const run = phasor(["train", ...tiny, ...args, "--epochs", "1", "--out", join(dir, "acting.json")]);
      expect(run.status, `${args.join(" ")}: ${run.stderr}`).toBe(0);
    }
  });

  it("draws no loss for an epoch whose every step was rolled back, and says it had none (null), never NaN", () => {
    // one sequence an epoch at a rate of 1e30: epoch 1's step throws the point far off, and the guard rolls epoch
    // 2's only step back; before, the curve's loss axis read "NaN" and its loss line had no valid point
    const out = join(dir, "rolled-back.json");
    const run = phasor(["train", "--task", "adding", "--hidden", "4", "--per-epoch", "1", "--validation", "8", "--epochs", "3", "--lr", "1e30", "--out", out]);
    expect(run.status).toBe(0);
    const epochs = jsonLines(run.stdout).slice(0, 3);
    expect(epochs.map((r) => (r.guard as { rollbacks: number }).rollbacks)).toEqual([0, 1, 0]);
    expect(epochs[1].loss).toBeNull();
    const svg = readFileSync(join(dir, "rolled-back.svg"), "utf8");
    expect(svg).not.toMatch(/NaN|null|undefined|Infinity/);
    // the loss line (the first polyline) has epochs 1 and 3 only; the validation line epoch 2 only, since the
    // steps of epochs 1 and 3 threw the parameters where no engine runs them (no score)
    const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => m[1].split(" ").length);
    expect(lines).toEqual([2, 1]);
  });

  it("never keeps an epoch whose parameters no engine can run: the model it writes always loads", () => {
    // one step an epoch at a rate of 1e38: the step throws the weights to infinity, and validation scored what was
    // left; before, that epoch became the best and --out held nulls that phasor run refused
    const out = join(dir, "thrown.json");
    const run = phasor(["train", "--task", "freq1-async", "--hidden", "4", "--per-epoch", "16", "--batch", "16", "--validation", "8", "--epochs", "1", "--lr", "1e38", "--out", out]);
    expect(run.status, run.stderr).toBe(0);
    const [epoch, final] = jsonLines(run.stdout);
    expect(epoch.unusable).toMatch(/^layers\[0\]\.\S+: expected a finite number, got (NaN|-?Infinity)$/);
    expect(epoch.valAccuracy).toBeNull();
    expect(run.stderr).toMatch(/epoch 1\/1: loss [0-9.]+, no model to score: layers\[0\]/);
    expect(final.bestEpoch).toBe(0);
    expect(() => parseModelText(readFileSync(out, "utf8"), out)).not.toThrow();
    // the model it writes is the initial one, and the run says so (before, only bestEpoch 0 in the last line did)
    expect(run.stderr).toContain(
      `phasor train: warning: no epoch ended with parameters an engine can run (each epoch's line says why), so ${out} holds the initial model, untrained: give a lower --lr (this run's: 1e+38)\n`,
    );
  });

  it("says so when the guard rolled back every step before the epoch it keeps", () => {
    // Adam at 1e300, two batches an epoch: the first step throws the weights to infinity, the next batch's loss is not
    // finite and the guard rolls back to the initial point; every epoch ends there, with no step taken, and one is kept
    const out = join(dir, "rolled-back-all.json");
    const run = phasor(["train", "--task", "freq1-async", "--hidden", "4", "--per-epoch", "32", "--batch", "16", "--validation", "32", "--epochs", "2", "--lr", "1e300", "--out", out]);
    expect(run.status, run.stderr).toBe(0);
    const lines = jsonLines(run.stdout);
    const final = lines.at(-1) as { bestEpoch: number };
    const epochs = lines.slice(0, -1) as { epoch: number; steps: number; guard: { rollbacks: number; nonFinite: number } }[];
    expect(epochs.map((r) => r.steps)).toEqual([0, 0]);
    expect(final.bestEpoch).toBeGreaterThan(0);
    const upToKept = epochs.filter((r) => r.epoch <= final.bestEpoch);
    const rollbacks = upToKept.reduce((sum, r) => sum + r.guard.rollbacks, 0);
    const nonFinite = upToKept.reduce((sum, r) => sum + r.guard.nonFinite, 0);
    expect(nonFinite).toBeGreaterThan(0);
    expect(run.stderr).toContain(
      `phasor train: warning: the stability guard rolled back every step up to epoch ${final.bestEpoch}, the one kept (${rollbacks} ${rollbacks === 1 ? "rollback" : "rollbacks"}, ${nonFinite} for a non-finite loss or gradient), so ${out} holds the initial model, untrained: give a lower --lr (this run's: 1e+300)\n`,
    );
  });

  it("does not warn of an untrained model when steps were taken", () => {
    const run = phasor(["train", ...tiny, "--epochs", "1", "--out", join(dir, "trained.json")]);
    expect(run.status, run.stderr).toBe(0);
    expect(jsonLines(run.stdout)[0].steps).toBeGreaterThan(0);
    expect(run.stderr).not.toContain("untrained");
  });

  it("warns when the validation sequences are all of one class, and only then", () => {
    // tasks.md draws the first 16 of every 32 freq1 sequences from the positive band: 16 validation sequences are all
    // positive, and a model that always answers 1 scores 100 % on them
    const one = phasor(["train", "--task", "freq1-async", "--hidden", "4", "--per-epoch", "16", "--batch", "16", "--validation", "16", "--epochs", "1", "--out", join(dir, "one-class.json")]);
    expect(one.status, one.stderr).toBe(0);
    expect(one.stderr).toContain(
      "phasor train: warning: the 16 validation sequences of freq1-async are all of class 1 (tasks.md draws the first 16 of every 32 from the positive band), so validation accuracy says little of the model: give --validation 32 or more\n",
    );
    const both = phasor(["train", "--task", "freq1-async", "--hidden", "4", "--per-epoch", "16", "--batch", "16", "--validation", "32", "--epochs", "1", "--out", join(dir, "two-classes.json")]);
    expect(both.status, both.stderr).toBe(0);
    expect(both.stderr).not.toContain("warning");
  });

  it("refuses bad arguments with exit 2 and a message", () => {
    const both = phasor(["train", ...tiny, "--lr", "0.1", "--lr-scale", "2", "--out", join(dir, "x.json")]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--lr or --lr-scale, not both/);
    // a factor that gives no rate is named as the user gave it; before, the refusal named --lr and a rate of -0.003
    for (const scale of ["-1", "0"]) {
      const bad = phasor(["train", ...tiny, "--lr-scale", scale, "--out", join(dir, "x.json")]);
      expect(bad.stderr, scale).toBe(`phasor train: --lr-scale must be a number above 0 that leaves a finite rate, got ${scale}\n`);
      expect(bad.status, scale).toBe(2);
    }
    for (const range of ["3", "5,4", "1,x", "1,2,3", "-40,1"]) {
      const bad = phasor(["train", ...tiny, "--set", `logTauRange=${range}`, "--out", join(dir, "x.json")]);
      expect(bad.status, range).toBe(2);
      expect(bad.stderr, range).toMatch(/logTauRange|--log-tau-range/);
    }
    const negative = phasor(["train", ...tiny, "--set", "timeLrScale=-1", "--out", join(dir, "x.json")]);
    expect(negative.status).toBe(2);
    expect(negative.stderr).toMatch(/timeLrScale/);
    const noTask = phasor(["train", "--out", join(dir, "x.json")]);
    expect(noTask.status).toBe(2);
    expect(noTask.stderr).toMatch(/missing --task/);
    const notJson = phasor(["train", ...tiny, "--out", join(dir, "x.plsm")]);
    expect(notJson.status).toBe(2);
    for (const e of ["0", "11", "-0.1"]) {
      const bad = phasor(["train", ...tiny, "--optimizer", "sgd", "--set", `guardProbeStep=${e}`, "--out", join(dir, "x.json")]);
      expect(bad.status, e).toBe(2);
      expect(bad.stderr, e).toMatch(/guardProbeStep|--guard-probe-step/);
    }
    const badCheckpoint = phasor(["train", ...tiny, "--out", join(dir, "y.json"), "--resume", join(dir, "missing.json")]);
    expect(badCheckpoint.status).toBe(2);
    expect(badCheckpoint.stderr).toMatch(/missing\.json/);
  });
});
