/**
 * The stop rule of a training run (host/training/training.ts): --stop-at stops after the first epoch whose
 * validation accuracy reaches it, and stopAtStreak asks for that many epochs in a row, so that one lucky epoch of
 * the main job's validation draw does not end its training (docs/RESULTS.md, "The main job").
 */
import { describe, expect, it } from "vitest";
import "../host/node.js";
import { TrainingRun, defaultSettings } from "../host/training/training.js";

const tiny = { hidden: 4, epochs: 8, perEpoch: 64, validation: 40, batchSize: 16, seed: 3, lr: 0.02 };

/** The epoch a streak rule stops after, read off a full run's history; the full count when it never does. */
function stopEpoch(accuracies: number[], threshold: number, streak: number): number {
  let run = 0;
  for (let e = 0; e < accuracies.length; e++) {
    run = accuracies[e] >= threshold ? run + 1 : 0;
    if (run >= streak) return e + 1;
  }
  return accuracies.length;
}

describe("stopping on a streak of validation epochs", () => {
  it("stops after the first epoch, or after the first k epochs, that reach a threshold every epoch reaches", async () => {
    for (const streak of [1, 3]) {
      const run = await TrainingRun.create(defaultSettings("freq1-async", { ...tiny, stopAtAccuracy: 0, stopAtStreak: streak }));
      await run.run();
      expect(run.epoch).toBe(streak);
    }
  });

  it("counts only consecutive epochs: a threshold between the epochs' scores stops where the history says", async () => {
    const full = await TrainingRun.create(defaultSettings("freq1-async", tiny));
    await full.run();
    const accuracies = full.history.map((r) => r.valAccuracy as number);
    expect(accuracies).toHaveLength(tiny.epochs);
    // every distinct score as a threshold, with streaks of 1 to 3: the same seed runs the same epochs until it stops
    const thresholds = [...new Set(accuracies)].sort((a, b) => a - b);
    let differed = false;
    for (const threshold of thresholds.slice(1)) {
      for (const streak of [1, 2, 3]) {
        const want = stopEpoch(accuracies, threshold, streak);
        if (want !== stopEpoch(accuracies, threshold, 1)) differed = true;
        const run = await TrainingRun.create(defaultSettings("freq1-async", { ...tiny, stopAtAccuracy: threshold, stopAtStreak: streak }));
        await run.run();
        expect(run.epoch, `threshold ${threshold}, streak ${streak}`).toBe(want);
        expect(run.history.map((r) => r.valAccuracy)).toEqual(accuracies.slice(0, want));
      }
    }
    // the scores moved enough that a streak changed some stop: the test saw the rule act
    expect(differed).toBe(true);
  });

  it("refuses a streak under 1", async () => {
    await expect(TrainingRun.create(defaultSettings("freq1-async", { ...tiny, stopAtStreak: 0 }))).rejects.toThrow(/stopAtStreak/);
  });
});
