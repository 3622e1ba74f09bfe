/**
 * A training run driven from the command line: progress on stderr (a bar on a terminal, a line per epoch
 * otherwise), one JSON line per epoch on stdout, a checkpoint after every epoch (atomic), and at the end the
 * best model, its learning curve (SVG) next to it. `phasor train` and the main job (`phasor start`) share it.
 */
import { PhasorError } from "../../host/errors.js";
import { repeatedInFile } from "../../host/json-text.js";
import { modelToJson, type FloatModel } from "../../host/model/model.js";
import { guardSvg, learningCurveSvg } from "../../host/training/report.js";
import { TASKS } from "../../host/training/tasks.js";
import type { GuardState } from "../../host/training/guard.js";
import type { TrainerSnapshot } from "../../host/training/trainer.js";
import {
  CHECKPOINT_VERSION, TrainingRun, checkCheckpointFormat, checkCheckpointState, checkpointSettings, type Checkpoint, type EpochRecord,
} from "../../host/training/training.js";
import { checkGivenTakeEffect, resumedSettings, type TrainSettings } from "../../host/training/settings.js";
import type { CommandIO } from "./command.js";
import { JSON_FILE_LIMIT, checkOutputFile, readWholeFile, writeFileAtomically } from "../../host/files.js";

const encoder = new TextEncoder();

/** A typed array's bytes as base64, for the JSON checkpoint. */
function base64(values: Float32Array | Float64Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString("base64");
}

/** The bytes of base64 text, checked to hold a whole number of `width`-byte numbers. */
function decode(text: unknown, what: string, width: 4 | 8): ArrayBuffer {
  if (typeof text !== "string") throw new PhasorError("bad-input", `${what} is missing`);
  const bytes = Buffer.from(text, "base64");
  if (bytes.length % width !== 0) throw new PhasorError("bad-input", `${what} is not a whole number of ${width === 4 ? "floats" : "doubles"}`);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
}

const floats = (text: unknown, what: string) => new Float32Array(decode(text, what, 4));
const readDoubles = (text: unknown, what: string) => new Float64Array(decode(text, what, 8));

function snapshotText(t: TrainerSnapshot) {
  return { theta: base64(t.theta), moment1: base64(t.moment1), moment2: base64(t.moment2), stepCount: t.stepCount };
}

function readSnapshot(raw: unknown, what: string): TrainerSnapshot {
  const t = raw as Record<string, unknown> | undefined;
  return { theta: floats(t?.theta, `${what} theta`), moment1: floats(t?.moment1, `${what} moment1`), moment2: floats(t?.moment2, `${what} moment2`), stepCount: t?.stepCount as number };
}

export function checkpointText(c: Checkpoint): string {
  return JSON.stringify({
    ...c,
    trainer: snapshotText(c.trainer),
    best: { epoch: c.best.epoch, score: c.best.score, theta: base64(c.best.theta) },
    ...(c.guard ? { guard: { ...c.guard, v: base64(c.guard.v), snapshots: c.guard.snapshots.map(snapshotText) } } : {}),
    ...(c.average ? { average: { ...c.average, sum: base64(c.average.sum) } } : {}),
  });
}

export async function readCheckpoint(path: string): Promise<Checkpoint> {
  const bytes = readWholeFile(path, { what: "the checkpoint", ...JSON_FILE_LIMIT, code: "bad-input" });
  let raw: Record<string, unknown>;
  const text = new TextDecoder().decode(bytes);
  try {
    raw = JSON.parse(text);
  } catch {
    throw new PhasorError("bad-input", `${path}: not a readable checkpoint: not JSON`);
  }
  checkCheckpointFormat(raw, path, [1, CHECKPOINT_VERSION]);
  // JSON.parse kept the last of a name given twice: a run resumed from a value other than the one written
  const repeated = repeatedInFile(text, raw);
  if (repeated !== undefined) throw new PhasorError("bad-input", `${path}: not a readable checkpoint: ${repeated}`);
  const settings = checkpointSettings(raw, path);
  try {
    const checkpoint = decodeCheckpoint(raw, settings);
    checkCheckpointState(checkpoint);
    return checkpoint;
  } catch (err) {
    throw err instanceof PhasorError ? new PhasorError("bad-input", `${path}: ${err.message}`) : err;
  }
}

/** The checkpoint a file's JSON holds, its arrays decoded from base64. */
function decodeCheckpoint(raw: Record<string, unknown>, settings: TrainSettings): Checkpoint {
  const trainer = raw.trainer as Record<string, unknown>;
  const best = raw.best as Record<string, unknown>;
  const guard = raw.guard as (Omit<GuardState, "v" | "snapshots"> & { v: unknown; snapshots: unknown }) | undefined;
  const average = raw.average as { decay: number; weight: number; sum: unknown } | undefined;
  return {
    format: "phasor-checkpoint",
    version: CHECKPOINT_VERSION,
    settings,
    epoch: raw.epoch as number,
    history: raw.history as EpochRecord[],
    trainer: readSnapshot(trainer, "trainer"),
    best: { epoch: best?.epoch as number, score: best?.score as number, theta: floats(best?.theta, "best theta") },
    ...(guard
      ? {
          guard: {
            ...guard,
            v: readDoubles(guard.v, "guard v"),
            snapshots: (Array.isArray(guard.snapshots) ? guard.snapshots : []).map((x, k) => readSnapshot(x, `guard snapshot ${k}`)),
          },
        }
      : {}),
    ...(average ? { average: { decay: average.decay, weight: average.weight, sum: readDoubles(average.sum, "average sum") } } : {}),
  };
}

/** A bar that redraws in place on a terminal; plain lines per epoch elsewhere. */
class Progress {
  private lastDraw = 0;
  constructor(
    private readonly stderr: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly epochs: number,
  ) {}
  batch(epoch: number, batch: number, batches: number, loss: number): void {
    if (!this.stderr.isTTY) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && batch < batches) return;
    this.lastDraw = now;
    const width = 30;
    const filled = Math.round((batch / batches) * width);
    this.stderr.write(`\repoch ${epoch}/${this.epochs} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${batch}/${batches} loss ${loss.toFixed(4)}   `);
  }
  epoch(r: EpochRecord): void {
    const score =
      r.unusable !== undefined ? `no model to score: ${r.unusable}`
      : r.valAccuracy !== undefined ? `val accuracy ${(100 * r.valAccuracy).toFixed(2)} %`
      : `val MSE ${r.valMse?.toPrecision(4)}`;
    this.stderr.write(`${this.stderr.isTTY ? "\r" : ""}epoch ${r.epoch}/${this.epochs}: loss ${r.loss.toFixed(4)}, ${score}, ${r.seconds.toFixed(1)} s, ${Math.round(r.sequencesPerSec)} sequences/s\n`);
  }
}

export interface SessionResult {
  run: TrainingRun;
  best: { model: FloatModel; epoch: number; score: number };
  modelPath: string;
  curvePath: string;
  /** lambda_B against 2 / eta per epoch, when the guard checked curvature */
  guardPath?: string;
}

/**
 * Trains, writing `out` (the best model), `out` with .svg (its learning curve), with .guard.svg (lambda_B against
 * 2 / eta, when the guard checked curvature) and with .checkpoint.json. With `resume`, continues the run of that
 * checkpoint instead, with the settings `given` on the command line (resumedSettings says which may differ).
 */
export async function trainSession(settings: TrainSettings, out: string, io: CommandIO, resume?: { from: string; given: Partial<TrainSettings> }): Promise<SessionResult> {
  const checkpoint = resume ? await readCheckpoint(resume.from) : undefined;
  const runSettings = checkpoint && resume ? resumedSettings(checkpoint.settings, resume.given) : settings;
  if (resume) checkGivenTakeEffect(resume.given, runSettings);
  // what the trainer, the guard or the average refuse of a checkpoint (a model of another size) is named by its file
  const run = await TrainingRun.create(runSettings, checkpoint).catch((err: unknown) => {
    throw resume && err instanceof PhasorError && err.code === "bad-input" ? new PhasorError("bad-input", `${resume.from}: ${err.message}`) : err;
  });
  const base = out.replace(/\.json$/i, "");
  const checkpointPath = `${base}.checkpoint.json`;
  const curvePath = `${base}.svg`;
  // only SGD's guard checks curvature (guard.ts), and only its checks give the plot something to draw
  const guardPath = run.settings.guard === true && run.settings.optimizer === "sgd" ? `${base}.guard.svg` : undefined;
  const progress = new Progress(io.stderr as NodeJS.WritableStream & { isTTY?: boolean }, run.settings.epochs);
  const classes = run.validationClassCounts();
  if (classes !== null && classes.filter((n) => n > 0).length < 2) {
    const only = classes.findIndex((n) => n > 0);
    io.stderr.write(
      `phasor train: warning: the ${run.settings.validation} validation sequences of ${run.settings.task} are all of class ${only} ` +
        `(tasks.md draws the first 16 of every 32 from the positive band), so validation accuracy says little of the model: give --validation 32 or more\n`,
    );
  }
  try {
    // every file the run writes next to `out` is checked before its first epoch, as `out` is by the caller: a run of
    // hours must not stop at its first checkpoint, nor end with its model written and its curve refused
    await checkOutputFile(checkpointPath, "--out's checkpoint");
    await checkOutputFile(curvePath, "--out's learning curve");
    if (guardPath !== undefined) await checkOutputFile(guardPath, "--out's guard plot");
    await run.run({
      onBatch: (epoch, batch, batches, loss) => progress.batch(epoch, batch, batches, loss),
      // the run waits for the write before its next epoch: a killed run keeps every finished epoch, and the
      // writes come one at a time, in epoch order
      onEpoch: (record) => {
        progress.epoch(record);
        io.stdout.write(JSON.stringify(record) + "\n");
        return writeFileAtomically(checkpointPath, encoder.encode(checkpointText(run.checkpoint())));
      },
    });
  } finally {
    await run.close();
  }
  const best = run.bestModel();
  warnIfUntrained(run, best.epoch, out, io);
  const task = TASKS[run.settings.task];
  const paper = task.paper?.reported?.find((r) => r.model === "Phased LSTM");
  const svg = learningCurveSvg(run.history, {
    title: `${run.settings.task}, ${run.settings.optimizer}, seed ${run.settings.seed}`,
    reference: paper && task.kind === "classification" ? { value: paper.percent / 100, label: `paper's Phased LSTM ${paper.percent} %` } : undefined,
  });
  await writeFileAtomically(out, encoder.encode(JSON.stringify(modelToJson(best.model)) + "\n"));
  await writeFileAtomically(curvePath, encoder.encode(svg));
  let guardPlot: string | undefined;
  if (guardPath !== undefined && run.history.some((r) => r.guard?.lambdaMedian != null)) {
    guardPlot = guardPath;
    const title = `${run.settings.task}, SGD lr ${run.settings.lr}, momentum ${run.settings.momentum}, seed ${run.settings.seed}`;
    await writeFileAtomically(guardPath, encoder.encode(guardSvg(run.history, { title })));
  }
  return { run, best, modelPath: out, curvePath, guardPath: guardPlot };
}

/**
 * A run whose kept model is the one it started from says so: no epoch ended at parameters an engine can run (the
 * best is then epoch 0, the initial model), or the guard rolled back every step before the epoch kept (its step
 * count is 0). The run still writes that model, which loads, but its final line alone (bestEpoch, a null or chance
 * accuracy) is easy to take for a trained one; the usual cause is a rate far too large.
 */
function warnIfUntrained(run: TrainingRun, bestEpoch: number, out: string, io: CommandIO): void {
  const lower = `give a lower --lr (this run's: ${run.settings.lr})`;
  if (bestEpoch === 0) {
    io.stderr.write(
      `phasor train: warning: no epoch ended with parameters an engine can run (each epoch's line says why), so ${out} holds ` +
        `the initial model, untrained: ${lower}\n`,
    );
    return;
  }
  const kept = run.history.find((r) => r.epoch === bestEpoch);
  if (kept === undefined || kept.steps > 0) return;
  const guarded = run.history.filter((r) => r.epoch <= bestEpoch && r.guard !== undefined);
  const rollbacks = guarded.reduce((sum, r) => sum + (r.guard?.rollbacks ?? 0), 0);
  const nonFinite = guarded.reduce((sum, r) => sum + (r.guard?.nonFinite ?? 0), 0);
  io.stderr.write(
    `phasor train: warning: the stability guard rolled back every step up to epoch ${bestEpoch}, the one kept ` +
      `(${rollbacks} ${rollbacks === 1 ? "rollback" : "rollbacks"}, ${nonFinite} for a non-finite loss or gradient), so ${out} holds the initial model, ` +
      `untrained: ${lower}\n`,
  );
}
