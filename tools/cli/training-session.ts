/**
 * A training run driven from the command line: progress on stderr (a bar on a terminal, a line per epoch
 * otherwise), one JSON line per epoch on stdout, a checkpoint after every epoch (atomic), and at the end the
 * best model, its learning curve (SVG) next to it. `phasor train` and the main job (`phasor start`) share it.
 */
import { readFile } from "node:fs/promises";
import { PhasorError } from "../../host/errors.js";
import { modelToJson, type FloatModel } from "../../host/model/model.js";
import { guardSvg, learningCurveSvg } from "../../host/training/report.js";
import { TASKS } from "../../host/training/tasks.js";
import type { GuardState } from "../../host/training/guard.js";
import type { TrainerSnapshot } from "../../host/training/trainer.js";
import { CHECKPOINT_VERSION, TrainingRun, checkCheckpointFormat, defaultSettings, type Checkpoint, type EpochRecord, type TrainSettings } from "../../host/training/training.js";
import type { CommandIO } from "./command.js";
import { ioReason, writeFileAtomically } from "../../host/files.js";

const encoder = new TextEncoder();

/** A typed array's bytes as base64, for the JSON checkpoint. */
function base64(values: Float32Array | Float64Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString("base64");
}

/** The bytes of base64 text, checked to hold a whole number of `width`-byte numbers. */
function decode(text: unknown, what: string, width: 4 | 8): ArrayBuffer {
  if (typeof text !== "string") throw new PhasorError("bad-input", `checkpoint: ${what} is missing`);
  const bytes = Buffer.from(text, "base64");
  if (bytes.length % width !== 0) throw new PhasorError("bad-input", `checkpoint: ${what} is not a whole number of ${width === 4 ? "floats" : "doubles"}`);
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
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new PhasorError("bad-input", `${path}: not a readable checkpoint: ${err instanceof SyntaxError ? "not JSON" : ioReason(err)}`);
  }
  checkCheckpointFormat(raw, path, [1, CHECKPOINT_VERSION]);
  // version 1 held a trained r_on as its logit; every other number means in version 2 what it meant in version 1
  if (raw.version === 1 && (raw.settings as TrainSettings | undefined)?.trainROn) {
    throw new PhasorError(
      "bad-input",
      `${path}: this version-1 checkpoint trains r_on through its logit; the trainer now learns r_on itself (plstm.md section 5) and cannot continue that run: start it again`,
    );
  }
  const trainer = raw.trainer as Record<string, unknown>;
  const best = raw.best as Record<string, unknown>;
  const guard = raw.guard as (Omit<GuardState, "v" | "snapshots"> & { v: unknown; snapshots: unknown }) | undefined;
  const average = raw.average as { decay: number; weight: number; sum: unknown } | undefined;
  return {
    format: "phasor-checkpoint",
    version: CHECKPOINT_VERSION,
    settings: raw.settings as TrainSettings,
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
    const score = r.valAccuracy !== undefined ? `val accuracy ${(100 * r.valAccuracy).toFixed(2)} %` : `val MSE ${r.valMse?.toPrecision(4)}`;
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
 * What a resumed run may change: how long it goes on, and the build it runs on. The rest defines the run, the
 * thread count included: it decides how every batch's sums are rounded (host/training/parallel.ts), so a run
 * resumed on the checkpoint's count gives the bits of the run that was never stopped.
 */
const CHANGEABLE_ON_RESUME = new Set<keyof TrainSettings>(["epochs", "timeBudgetSeconds", "stopAtAccuracy", "simd"]);

/**
 * The settings of a resumed run: the checkpoint's, with the changeable ones from the command line. A setting that
 * defines the run and that the command line sets to something other than both its default and the checkpoint's
 * value is a conflict the user must hear about, never silently dropped.
 */
function resumedSettings(asked: TrainSettings, checkpoint: TrainSettings): TrainSettings {
  // checkpoints from before --threads trained on one thread
  const saved: TrainSettings = { ...checkpoint, threads: checkpoint.threads ?? 1 };
  // settings are numbers, strings, booleans and small arrays (the tau range)
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const defaults = defaultSettings(asked.task, { optimizer: asked.optimizer });
  const conflicts = (Object.keys(asked) as (keyof TrainSettings)[]).filter(
    (k) => !CHANGEABLE_ON_RESUME.has(k) && !same(asked[k], saved[k]) && !same(asked[k], defaults[k]),
  );
  if (conflicts.length > 0) {
    const list = conflicts.map((k) => `${k} ${JSON.stringify(asked[k])} (the checkpoint has ${JSON.stringify(saved[k])})`).join(", ");
    const threads = conflicts.includes("threads")
      ? `; the thread count decides how every batch's sums are rounded, so the run goes on with --threads ${saved.threads} or no --threads`
      : "";
    throw new PhasorError("bad-args", `--resume continues the checkpoint's run; it cannot change ${list}. Only --epochs, --time-budget, --stop-at and --simd may differ${threads}`);
  }
  const resumed: TrainSettings = { ...saved };
  for (const k of CHANGEABLE_ON_RESUME) (resumed as unknown as Record<string, unknown>)[k] = asked[k];
  return resumed;
}

/**
 * Trains, writing `out` (the best model), `out` with .svg (its learning curve), with .guard.svg (lambda_B against
 * 2 / eta, when the guard checked curvature) and with .checkpoint.json.
 */
export async function trainSession(settings: TrainSettings, out: string, io: CommandIO, resumeFrom?: string): Promise<SessionResult> {
  const resume = resumeFrom ? await readCheckpoint(resumeFrom) : undefined;
  if (resume && resume.settings.task !== settings.task) {
    throw new PhasorError("bad-args", `--resume: the checkpoint trains ${resume.settings.task}, not ${settings.task}`);
  }
  const run = await TrainingRun.create(resume ? resumedSettings(settings, resume.settings) : settings, resume);
  const base = out.replace(/\.json$/i, "");
  const checkpointPath = `${base}.checkpoint.json`;
  const progress = new Progress(io.stderr as NodeJS.WritableStream & { isTTY?: boolean }, run.settings.epochs);
  // one write at a time, in epoch order: two renames racing could leave an older checkpoint in place
  let writes = Promise.resolve();
  try {
    await run.run({
      onBatch: (epoch, batch, batches, loss) => progress.batch(epoch, batch, batches, loss),
      onEpoch: (record) => {
        progress.epoch(record);
        io.stdout.write(JSON.stringify(record) + "\n");
        const bytes = encoder.encode(checkpointText(run.checkpoint()));
        writes = writes.then(() => writeFileAtomically(checkpointPath, bytes));
      },
    });
  } finally {
    await run.close();
  }
  await writes;
  const best = run.bestModel();
  const task = TASKS[run.settings.task];
  const paper = task.paper?.reported?.find((r) => r.model === "Phased LSTM");
  const svg = learningCurveSvg(run.history, {
    title: `${run.settings.task}, ${run.settings.optimizer}, seed ${run.settings.seed}`,
    reference: paper && task.kind === "classification" ? { value: paper.percent / 100, label: `paper's Phased LSTM ${paper.percent} %` } : undefined,
  });
  const curvePath = `${base}.svg`;
  await writeFileAtomically(out, encoder.encode(JSON.stringify(modelToJson(best.model)) + "\n"));
  await writeFileAtomically(curvePath, encoder.encode(svg));
  let guardPath: string | undefined;
  if (run.history.some((r) => r.guard?.lambdaMedian != null)) {
    guardPath = `${base}.guard.svg`;
    const title = `${run.settings.task}, SGD lr ${run.settings.lr}, momentum ${run.settings.momentum}, seed ${run.settings.seed}`;
    await writeFileAtomically(guardPath, encoder.encode(guardSvg(run.history, { title })));
  }
  return { run, best, modelPath: out, curvePath, guardPath };
}
