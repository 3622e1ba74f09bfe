/**
 * A checkpoint is checked for its format and version wherever a run resumes from one: the file `phasor train
 * --resume` reads, and the object TrainingRun.create is given in code. Both refuse anything else as bad input,
 * before a step is trained or a file written.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
