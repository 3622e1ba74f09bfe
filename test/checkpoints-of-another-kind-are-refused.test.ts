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

// before: each of these resumed (an epoch "x", a history shorter than the epochs it claims, a best score of null, a step
// count of "lots"), or stopped on a TypeError's stack (a history that is no array)
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
    ["a model of another size", (c) => { for (const k of ["theta", "moment1", "moment2"]) c.trainer[k] = c.trainer[k].slice(0, 16); c.best.theta = c.best.theta.slice(0, 16); }, /snapshot: taken from a trainer with another parameter count/],
  ] as [string, Edit, RegExp][])("is refused by phasor train --resume, naming the file: %s", (_, edit, reason) => {
    const damaged = structuredClone(good);
    edit(damaged);
    const file = join(dir, "damaged.checkpoint.json");
    writeFileSync(file, JSON.stringify(damaged));
    const out = join(dir, "resumed.json");
    const run = phasor(["train", ...tiny, "--epochs", "3", "--out", out, "--resume", file]);
    expect(run.stderr).toMatch(new RegExp(`^phasor train: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `));
    expect(run.stderr).toMatch(reason);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
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
