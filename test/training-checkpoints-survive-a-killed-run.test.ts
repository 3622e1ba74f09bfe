/**
 * `phasor train` writes a checkpoint after every epoch (tools/cli/training-session.ts), so a run that is killed
 * (a power cut on a gateway, an OOM kill, a shared machine's reboot) loses at most the epoch it was in. The write
 * must land before the next epoch starts: a training loop that only yields to microtasks never lets queued file I/O
 * finish, and a long single-thread run then had no checkpoint at all until it ended.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "../host/node.js";
import { TrainingRun, defaultSettings } from "../host/training/training.js";
import { phasor, spawnPhasor } from "./support/cli.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "phasor-killed-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("checkpoints of a run that is killed", () => {
  it("are on disk for every finished epoch: killed in epoch 4, the checkpoint holds epoch 3 and resumes", async () => {
    const out = join(dir, "m.json");
    const args = ["train", "--task", "freq1-async", "--hidden", "6", "--per-epoch", "64", "--validation", "20", "--batch", "16", "--epochs", "400", "--threads", "1", "--out", out];
    const { child, done } = spawnPhasor(args);
    let lines = 0;
    child.stdout?.on("data", (chunk: Buffer) => {
      lines += chunk.toString("utf8").split("\n").length - 1;
      // three epoch lines printed: epoch 3's checkpoint is being written, epoch 4 waits for it
      if (lines >= 3) child.kill("SIGKILL");
    });
    const ended = await done;
    expect(ended.signal).toBe("SIGKILL");
    const checkpointPath = join(dir, "m.checkpoint.json");
    expect(existsSync(checkpointPath)).toBe(true);
    const saved = JSON.parse(readFileSync(checkpointPath, "utf8")) as { epoch: number; history: unknown[] };
    expect(saved.epoch).toBeGreaterThanOrEqual(2);
    expect(saved.history).toHaveLength(saved.epoch);
    expect(existsSync(out)).toBe(false);
    const resumed = phasor(["train", "--task", "freq1-async", "--resume", checkpointPath, "--epochs", String(saved.epoch + 1), "--out", join(dir, "resumed.json")]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(existsSync(join(dir, "resumed.json"))).toBe(true);
  });

  it.each([["SIGINT"], ["SIGTERM"]] as const)("stopped by %s while a checkpoint is being written, leave no partial file beside it", async (signal) => {
    // Ctrl-C at a bad moment: before, the process died with the checkpoint's partial file (as large as the
    // checkpoint, 2.4 MB for 110 units) left beside --out, hidden by its leading dot
    const folder = mkdtempSync(join(dir, "stopped-"));
    const args = ["train", "--task", "freq1-async", "--hidden", "6", "--per-epoch", "32", "--validation", "8", "--batch", "16", "--epochs", "5", "--out", join(folder, "m.json")];
    const { child, done } = spawnPhasor(args, { preload: "./test/support/hung-sync.mjs" });
    child.stderr?.on("data", (chunk: Buffer) => {
      if (chunk.toString("utf8").includes("syncing")) child.kill(signal);
    });
    const ended = await done;
    expect(ended.signal, ended.stderr.toString("utf8")).toBe(signal);
    expect(readdirSync(folder)).toEqual([]);
  });

  it("TrainingRun.run waits for an epoch hook's promise before the next epoch starts", async () => {
    const run = await TrainingRun.create(defaultSettings("freq1-async", { hidden: 4, epochs: 3, perEpoch: 32, validation: 10, batchSize: 16, seed: 2 }));
    const order: string[] = [];
    await run.run({
      onBatch: (epoch, batch) => void order.push(`batch ${epoch}.${batch}`),
      onEpoch: async (record) => {
        order.push(`epoch ${record.epoch}`);
        // a macrotask, as file I/O is
        await new Promise((resolve) => setTimeout(resolve, 5));
        order.push(`written ${record.epoch}`);
      },
    });
    expect(order).toEqual(["batch 1.1", "batch 1.2", "epoch 1", "written 1", "batch 2.1", "batch 2.2", "epoch 2", "written 2", "batch 3.1", "batch 3.2", "epoch 3", "written 3"]);
  });
});
