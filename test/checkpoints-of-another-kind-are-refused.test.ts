/**
 * A checkpoint is checked for its format and version wherever a run resumes from one: the file `phasor train
 * --resume` reads, and the object TrainingRun.create is given in code. Both refuse anything else as bad input,
 * before a step is trained or a file written.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "../host/node.js";
import { PhasorError } from "../host/errors.js";
import { TrainingRun, defaultSettings, type Checkpoint } from "../host/training/training.js";
import { phasor } from "./support/cli.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "phasor-checkpoint-kind-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tiny = ["--task", "freq1-async", "--hidden", "8", "--per-epoch", "96", "--validation", "40", "--batch", "16"];

describe("a checkpoint of another kind", () => {
  it.each([
    ["a JSON object of another format", { format: "phasor-model", version: 1 }],
    ["a checkpoint of an unknown version", { format: "phasor-checkpoint", version: 99 }],
    ["a JSON array", [1, 2, 3]],
  ])("is refused by phasor train --resume: %s", (_, content) => {
    const file = join(dir, "other.json");
    writeFileSync(file, JSON.stringify(content));
    const out = join(dir, "never.json");
    const run = phasor(["train", ...tiny, "--out", out, "--resume", file]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`${file}: not a phasor training checkpoint`);
    expect(existsSync(out)).toBe(false);
  });

  it.each([
    ["another format", { format: "phasor-model", version: 1 }],
    ["an unknown version", { format: "phasor-checkpoint", version: 99 }],
  ])("is refused by TrainingRun.create: %s", async (_, header) => {
    const settings = defaultSettings("freq1-async", { hidden: 8, perEpoch: 32, validation: 8, batchSize: 16 });
    const refusal = TrainingRun.create(settings, header as unknown as Checkpoint);
    await expect(refusal).rejects.toThrow(PhasorError);
    await expect(refusal).rejects.toMatchObject({ code: "bad-input", message: expect.stringMatching(/^not a phasor training checkpoint/) });
  });
});

/** base64 of as many NaN floats as `text` holds floats */
function nanBase64(text: string): string {
  return Buffer.from(new Float32Array(Buffer.from(text, "base64").length / 4).fill(NaN).buffer).toString("base64");
}

// before: each of these resumed (an epoch "x", a history shorter than the epochs it claims, a best score of null, a step
// count of "lots", a guard snapshot of NaN that a rollback would restore, a guard back-off of -5 that stopped at the
// first step naming no file), or stopped on a TypeError's stack (a history that is no array)
describe("a damaged checkpoint", () => {
  let good: Record<string, unknown>;
  beforeAll(() => {
    const out = join(dir, "good.json");
    expect(phasor(["train", ...tiny, "--epochs", "2", "--out", out]).status).toBe(0);
    good = JSON.parse(readFileSync(join(dir, "good.checkpoint.json"), "utf8"));
  });

  type Edit = (c: Record<string, any>) => void;
  it.each([
    ["an epoch that is no whole number", (c) => (c.epoch = "x"), /epoch must be a whole number of epochs done, got "x"/],
    ["more epochs than its history holds", (c) => (c.epoch = 99), /history holds 2 epochs, the checkpoint says 99 are done/],
    ["a history that is no array", (c) => (c.history = 5), /history must be an array of epoch records, got 5/],
    ["a history record of another epoch", (c) => (c.history[1].epoch = 7), /history\[1\]: epoch must be 2, got 7/],
    ["a history record without its time", (c) => delete c.history[0].seconds, /history\[0\]: seconds must be a finite number >= 0, got undefined/],
    ["a best score that is no number", (c) => (c.best.score = null), /best score must be a finite number, got null/],
    ["a best epoch beyond the epochs done", (c) => (c.best.epoch = 3), /best epoch must be a whole number in \[1, 2\], got 3/],
    ["a step count that is no whole number", (c) => (c.trainer.stepCount = "lots"), /trainer stepCount must be a whole number >= 0, got "lots"/],
    ["a best model of another size", (c) => (c.best.theta = c.best.theta.slice(0, 16)), /best theta holds 3 parameters, the trainer's theta \d+/],
    ["a guard snapshot of another size", (c) => (c.guard.snapshots[0].theta = c.guard.snapshots[0].theta.slice(0, 16)), /guard snapshot 0 theta holds 3 parameters, the trainer's theta \d+/],
    ["a guard snapshot of NaN", (c) => (c.guard.snapshots[0].moment1 = nanBase64(c.guard.snapshots[0].moment1)), /guard snapshot 0 moment1\[0\] is NaN, not a finite number/],
    ["a guard vector of another size", (c) => (c.guard.v = Buffer.from(new Float64Array(2).buffer).toString("base64")), /guard v holds 2 numbers, the trainer's theta \d+/],
    ["a guard back-off out of range", (c) => (c.guard.backoff = -5), /guard backoff must be in \[0, 1\], got -5/],
    ["a guard count that is no whole number", (c) => (c.guard.goodSteps = "x"), /guard goodSteps must be a whole number >= 0, got "x"/],
    // its guard state (the same size as its trainer in a whole checkpoint) left out: the trainer's own check speaks
    ["a model of another size", (c) => { delete c.guard; for (const k of ["theta", "moment1", "moment2"]) c.trainer[k] = c.trainer[k].slice(0, 16); c.best.theta = c.best.theta.slice(0, 16); }, /snapshot: taken from a trainer with another parameter count/],
  ] as [string, Edit, RegExp][])("is refused by phasor train --resume, naming the file: %s", (_, edit, reason) => {
    const damaged = structuredClone(good);
    edit(damaged);
    const file = join(dir, "damaged.checkpoint.json");
    writeFileSync(file, JSON.stringify(damaged));
    const out = join(dir, "resumed.json");
    rmSync(out, { force: true });
    const run = phasor(["train", ...tiny, "--epochs", "3", "--out", out, "--resume", file]);
    expect(run.stderr).toMatch(new RegExp(`^phasor train: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `));
    expect(run.stderr).toMatch(reason);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(existsSync(out)).toBe(false);
  });

  // before: resumed from JSON.parse's last of the two (a best score of 0 where the file had another first)
  // each edit gives the text and the offset of the name given the second time
  it.each([
    ["an epoch given twice", (text: string) => [`${text.slice(0, -1)},"epoch":1}`, text.length], "epoch"],
    ["a best score given twice", (text: string) => [text.replace('"best":{', '"best":{"score":0,'), text.indexOf('"score"', text.indexOf('"best":{')) + '"score":0,'.length], "best.score"],
  ] as [string, (text: string) => [string, number], string][])("is refused by phasor train --resume, naming the file, the field and where: %s", (_, edit, path) => {
    const [text, offset] = edit(JSON.stringify(good));
    const column = offset + 1;
    const file = join(dir, "twice.checkpoint.json");
    writeFileSync(file, text);
    const out = join(dir, "resumed.json");
    rmSync(out, { force: true });
    const run = phasor(["train", ...tiny, "--epochs", "3", "--out", out, "--resume", file]);
    expect(run.stderr).toBe(`phasor train: ${file}: not a readable checkpoint: ${path} is given twice (line 1, column ${column}): JSON would keep only the last\n`);
    expect(run.status).toBe(2);
    expect(existsSync(out)).toBe(false);
  });

  it("is refused by TrainingRun.create too, in code", async () => {
    const settings = defaultSettings("freq1-async", { hidden: 8, perEpoch: 96, validation: 40, batchSize: 16 });
    const run = await TrainingRun.create(settings);
    const checkpoint = run.checkpoint();
    await run.close();
    const refusal = TrainingRun.create(settings, { ...checkpoint, epoch: 3 });
    await expect(refusal).rejects.toMatchObject({ code: "bad-input", message: "checkpoint: history holds 0 epochs, the checkpoint says 3 are done" });
  });
});
