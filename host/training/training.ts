/**
 * Training on a built-in task (tasks.md) the way the paper does it: every epoch draws fresh sequences, the
 * validation set is drawn once, the model is scored on it after every epoch and the best one is kept. The
 * trainer itself (forward, backpropagation through time, the optimizer) runs in wasm (host/training/trainer.ts); this is
 * the loop around it, browser-safe, with hooks for progress and per-epoch records and a checkpoint to resume from.
 */
import { ParameterAverage, type AverageState } from "./average.js";
import { PhasorError } from "../errors.js";
import { argmax } from "../engine/evaluate.js";
import { checkModel, type FloatModel } from "../model/model.js";
import { TASKS, generate, type Sample, type TaskName } from "./tasks.js";
import { StabilityGuard, TrainerObjective, type GuardState, type GuardStats } from "./guard.js";
import { batchGradients, type BatchGradients } from "./threads.js";
import { Trainer, initialModel, taskModelSpec, type TrainerSnapshot } from "./trainer.js";
import { checkSettings, checkSettingsTakeEffect, guardOptionsOf, resumedSettings, shown, storedSettings, type TrainSettings } from "./settings.js";

export { defaultSettings, type TrainSettings } from "./settings.js";

/** The most events one sequence of each task can have (tasks.md), which sizes the trainer's memory. */
const MAX_EVENTS: Record<TaskName, number> = {
  "freq1-standard": 126,
  "freq1-highres": 1251,
  "freq1-async": 125,
  freq2: 1000,
  adding: 510,
};

export interface EpochRecord {
  epoch: number;
  /** mean training loss over the epoch's batches */
  loss: number;
  valAccuracy?: number;
  valMse?: number;
  /** with settings.average on, the score of the parameters themselves (valAccuracy and valMse are the average's) */
  rawValAccuracy?: number;
  rawValMse?: number;
  /** wall time since the run started (a resumed run counts from its first start) */
  seconds: number;
  sequencesPerSec: number;
  steps: number;
  /** the stability guard's counts over the epoch, when it is on */
  guard?: GuardStats;
  /** the units' r_on at the end of the epoch, when it is trained: how far it drifted from settings.rOn */
  rOn?: { mean: number; min: number; max: number };
  /**
   * why the epoch's parameters are no model an engine runs (a weight thrown to infinity, a period that underflowed
   * to 0): then the epoch has no score (NaN) and is never the one kept
   */
  unusable?: string;
}

/**
 * The checkpoint format's version. 2: a trained r_on is r_on itself in theta (version 1 held its logit; a version-1
 * checkpoint that trains r_on cannot be continued, the others read as version 2: checkpointSettings).
 */
export const CHECKPOINT_VERSION = 2;

export interface Checkpoint {
  format: "phasor-checkpoint";
  version: typeof CHECKPOINT_VERSION;
  settings: TrainSettings;
  /** epochs completed */
  epoch: number;
  history: EpochRecord[];
  trainer: TrainerSnapshot;
  best: { epoch: number; score: number; theta: Float32Array };
  /** the guard's state at the end of the epoch (its snapshots too), when it is on */
  guard?: GuardState<TrainerSnapshot>;
  /** the parameter average, when settings.average is on */
  average?: AverageState;
}

/**
 * The settings of a checkpoint of any version this reads, with what the settings it leaves out meant when it was
 * written, checked as a run's settings are; `where` (a file) starts a refusal.
 */
export function checkpointSettings(raw: { version?: unknown; settings?: unknown }, where: string): TrainSettings {
  const saved = raw.settings;
  if (typeof saved !== "object" || saved === null || Array.isArray(saved)) throw new PhasorError("bad-input", `${where}: the checkpoint holds no settings`);
  // version 1 held a trained r_on as its logit; every other number means in version 2 what it meant in version 1
  if (raw.version === 1 && (saved as { trainROn?: unknown }).trainROn) {
    throw new PhasorError(
      "bad-input",
      `${where}: this version-1 checkpoint trains r_on through its logit; the trainer now learns r_on itself (plstm.md section 5) and cannot continue that run: start it again`,
    );
  }
  const settings = storedSettings(saved as Record<string, unknown>);
  try {
    checkSettings(settings);
  } catch (err) {
    if (!(err instanceof PhasorError)) throw err;
    // checkSettings names the settings object itself where the fault is its own (a key that is no setting)
    throw new PhasorError("bad-input", `${where}: ${err.message.startsWith("settings: ") ? "" : "settings: "}${err.message}`);
  }
  return settings;
}

/**
 * Fails unless a checkpoint's own numbers hold together: the epochs done with one history record each, the best
 * epoch among them with its score, a whole step count, and parameters of one size, every one finite. A damaged
 * file must not resume into a run that prints "epochs": "x" or trains from NaN. The message says what, not where:
 * the caller names the file.
 */
export function checkCheckpointState(c: Checkpoint): void {
  const fail = (why: string): never => {
    throw new PhasorError("bad-input", why);
  };
  const { epoch, history, best, trainer } = c;
  if (typeof best !== "object" || best === null) fail(`best must be an object, got ${shown(best)}`);
  if (typeof trainer !== "object" || trainer === null) fail(`trainer must be an object, got ${shown(trainer)}`);
  if (!(Number.isSafeInteger(epoch) && epoch >= 0)) fail(`epoch must be a whole number of epochs done, got ${shown(epoch)}`);
  if (!Array.isArray(history)) fail(`history must be an array of epoch records, got ${shown(history)}`);
  if (history.length !== epoch) fail(`history holds ${history.length} epochs, the checkpoint says ${epoch} are done`);
  history.forEach((r, k) => {
    const at = `history[${k}]`;
    if (typeof r !== "object" || r === null || Array.isArray(r)) fail(`${at} must be an epoch record, got ${shown(r)}`);
    if (r.epoch !== k + 1) fail(`${at}: epoch must be ${k + 1}, got ${shown(r.epoch)}`);
    if (!(typeof r.seconds === "number" && Number.isFinite(r.seconds) && r.seconds >= 0)) fail(`${at}: seconds must be a finite number >= 0, got ${shown(r.seconds)}`);
  });
  // before any epoch is scored the best is the initial model, at epoch 0, with no score (JSON writes -Infinity as null)
  const first = Math.min(1, epoch);
  if (!(Number.isSafeInteger(best.epoch) && best.epoch >= first && best.epoch <= epoch)) fail(`best epoch must be a whole number in [${first}, ${epoch}], got ${shown(best.epoch)}`);
  if (best.epoch > 0 && !(typeof best.score === "number" && Number.isFinite(best.score))) fail(`best score must be a finite number, got ${shown(best.score)}`);
  if (!(Number.isSafeInteger(trainer.stepCount) && trainer.stepCount >= 0)) fail(`trainer stepCount must be a whole number >= 0, got ${shown(trainer.stepCount)}`);
  const P = trainer.theta.length;
  for (const [what, values] of [["trainer moment1", trainer.moment1], ["trainer moment2", trainer.moment2], ["best theta", best.theta]] as const) {
    if (values.length !== P) fail(`${what} holds ${values.length} parameters, the trainer's theta ${P}`);
  }
  const finite = (what: string, values: ArrayLike<number>) => {
    const k = Array.prototype.findIndex.call(values, (v: number) => !Number.isFinite(v));
    if (k >= 0) fail(`${what}[${k}] is ${values[k]}, not a finite number`);
  };
  for (const [what, values] of [["trainer theta", trainer.theta], ["trainer moment1", trainer.moment1], ["trainer moment2", trainer.moment2], ["best theta", best.theta]] as const) {
    finite(what, values);
  }
  if (c.guard) checkGuardState(c.guard, P, fail, finite);
  if (c.average) finite("average sum", c.average.sum);
}

/**
 * The guard's state in a checkpoint: its snapshots are what a rollback restores, so they are held to the trainer's
 * own checks (a snapshot of NaN would send every rollback to NaN), and its scalars to what the guard can hold (a
 * back-off of -5 resumed, and stopped at the first step with a message that named no file). Numbers the guard may
 * not have measured yet (its running averages, lambda) are written as null for NaN and are not checked.
 */
function checkGuardState(
  guard: GuardState<TrainerSnapshot>,
  P: number,
  fail: (why: string) => never,
  finite: (what: string, values: ArrayLike<number>) => void,
): void {
  if (!Array.isArray(guard.snapshots) || guard.snapshots.length > 2) fail(`guard snapshots must be an array of at most 2, got ${shown(guard.snapshots)}`);
  guard.snapshots.forEach((snapshot, k) => {
    const at = `guard snapshot ${k}`;
    if (!(Number.isSafeInteger(snapshot.stepCount) && snapshot.stepCount >= 0)) fail(`${at} stepCount must be a whole number >= 0, got ${shown(snapshot.stepCount)}`);
    for (const [what, values] of [["theta", snapshot.theta], ["moment1", snapshot.moment1], ["moment2", snapshot.moment2]] as const) {
      if (values.length !== P) fail(`${at} ${what} holds ${values.length} parameters, the trainer's theta ${P}`);
      finite(`${at} ${what}`, values);
    }
  });
  if (guard.v.length !== P) fail(`guard v holds ${guard.v.length} numbers, the trainer's theta ${P}`);
  finite("guard v", guard.v);
  // step scales: halved by every rollback (so 0 once they underflow), never above 1
  for (const name of ["backoff", "capScale"] as const) {
    const value = guard[name];
    if (!(typeof value === "number" && value >= 0 && value <= 1)) fail(`guard ${name} must be in [0, 1], got ${shown(value)}`);
  }
  for (const name of ["goodSteps", "sinceIncident", "stepIndex", "checks", "rollbacksInARow"] as const) {
    const value = guard[name];
    if (!(Number.isSafeInteger(value) && value >= 0)) fail(`guard ${name} must be a whole number >= 0, got ${shown(value)}`);
  }
}

/** Fails unless `raw` says it is a checkpoint of this format and version; `where` (a file) starts the message. */
export function checkCheckpointFormat(raw: { format?: unknown; version?: unknown }, where?: string, versions: number[] = [CHECKPOINT_VERSION]): void {
  if (raw.format !== "phasor-checkpoint" || !versions.includes(raw.version as number)) {
    throw new PhasorError("bad-input", `${where === undefined ? "" : `${where}: `}not a phasor training checkpoint (version ${versions.join(" or ")})`);
  }
}

export interface TrainHooks {
  /** after every batch */
  onBatch?(epoch: number, batch: number, batches: number, loss: number): void;
  /** after every epoch; a promise it returns (a checkpoint's write) settles before the next epoch starts */
  onEpoch?(record: EpochRecord): void | Promise<void>;
}

/** Seeds of an epoch's fresh data and of the validation set, distinct for every (seed, epoch). */
function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed, 0x9e3779b1) + Math.imul(epoch, 0x85ebca77) + 1) >>> 0;
}
function validationSeed(seed: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0xc2b2ae35) + 0x27d4eb2f) >>> 0;
}

function spread(xs: ArrayLike<number>): { mean: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let k = 0; k < xs.length; k++) {
    sum += xs[k];
    min = Math.min(min, xs[k]);
    max = Math.max(max, xs[k]);
  }
  return { mean: sum / xs.length, min, max };
}

export class TrainingRun {
  readonly settings: TrainSettings;
  readonly trainer: Trainer;
  readonly history: EpochRecord[];
  /** the trainer, or its batches split among settings.threads threads */
  private readonly gradients: BatchGradients;
  private readonly validationSet: Sample[];
  private best: { epoch: number; score: number; theta: Float32Array };
  private epochsDone: number;
  private secondsBefore: number;
  /** the guard and the trainer as its objective, when the guard is on */
  private readonly guard: StabilityGuard<TrainerSnapshot> | null;
  private readonly objective: TrainerObjective;
  /** the moving average of the parameters, when settings.average asks for one, and room to swap it in */
  private readonly average: ParameterAverage | null;
  private readonly swap: Float32Array;

  private constructor(settings: TrainSettings, trainer: Trainer, gradients: BatchGradients, resume?: Checkpoint) {
    this.settings = settings;
    this.trainer = trainer;
    this.gradients = gradients;
    this.objective = new TrainerObjective(trainer, gradients);
    this.guard = settings.guard ? new StabilityGuard(trainer.parameterCount, guardOptionsOf(settings)) : null;
    if (this.guard && resume?.guard) this.guard.setState(resume.guard);
    this.average = settings.average ? new ParameterAverage(trainer.parameterCount, settings.average) : null;
    if (this.average && resume) {
      if (!resume.average) throw new PhasorError("bad-input", "checkpoint: the run averages its parameters but the checkpoint holds no average");
      this.average.setState(resume.average);
    }
    this.swap = new Float32Array(this.average ? trainer.parameterCount : 0);
    this.validationSet = generate(settings.task, settings.validation, validationSeed(settings.seed));
    this.history = resume ? [...resume.history] : [];
    this.epochsDone = resume?.epoch ?? 0;
    this.secondsBefore = resume?.history.at(-1)?.seconds ?? 0;
    this.best = resume
      ? { epoch: resume.best.epoch, score: resume.best.epoch > 0 ? resume.best.score : -Infinity, theta: resume.best.theta.slice() }
      : { epoch: 0, score: -Infinity, theta: trainer.parameters().slice() };
  }

  /**
   * How many validation sequences hold each class (index = label), for a classification task; null for the others.
   * tasks.md draws the first 16 of every 32 frequency sequences from the positive band, so a set of 16 or fewer
   * holds one class only, and its accuracy says nothing of the model (the CLI warns).
   */
  validationClassCounts(): number[] | null {
    const task = TASKS[this.settings.task];
    if (task.kind !== "classification") return null;
    const counts = new Array<number>(task.outputSize).fill(0);
    for (const sample of this.validationSet) counts[sample.label]++;
    return counts;
  }

  /** A fresh run (initial model per tasks.md's protocol, from the seed), or one resumed from a checkpoint. */
  static async create(settings: TrainSettings, resume?: Checkpoint): Promise<TrainingRun> {
    checkSettings(settings);
    if (resume) {
      checkCheckpointFormat(resume);
      // the checkpoint's run goes on: a setting that defines it (the task, the rates, the seed of its data) and that
      // differs from the checkpoint's would make the two halves of the run two different runs
      resumedSettings(checkpointSettings(resume, "checkpoint"), settings);
      try {
        checkCheckpointState(resume);
      } catch (err) {
        throw err instanceof PhasorError ? new PhasorError(err.code, `checkpoint: ${err.message}`) : err;
      }
    } else {
      checkSettingsTakeEffect(settings);
    }
    const task = TASKS[settings.task];
    const [lo, hi] = settings.logTauRange;
    const spec = {
      ...taskModelSpec(settings.task),
      hidden: [settings.hidden],
      rOn: settings.rOn,
      tauRange: [Math.exp(lo), Math.exp(hi)] as [number, number],
      weightInit: settings.weightInit,
      labels: task.labels ? [...task.labels] : undefined,
    };
    const trainer = await Trainer.create(initialModel(spec, settings.seed), {
      batchSize: settings.batchSize,
      maxLength: MAX_EVENTS[settings.task],
      optimizer: settings.optimizer,
      lr: settings.lr,
      // momentum is SGD's own: Adam has its betas
      momentum: settings.optimizer === "sgd" ? settings.momentum : undefined,
      clipNorm: settings.clipNorm,
      timeLrScale: settings.timeLrScale,
      rOnLrScale: settings.rOnLrScale,
      trainROn: settings.trainROn,
      tauDirect: settings.tauDirect,
      skipClosed: settings.skipClosed,
      simd: settings.simd,
      // the tasks' timestamps are the real times of their signals, 0..125 ms: the model learns on them as they
      // are, so the exported model runs on the same timestamps in every engine
      timeOrigin: "absolute",
    });
    if (resume) trainer.restore(resume.trainer);
    const gradients = await batchGradients(trainer, settings.threads);
    try {
      return new TrainingRun(settings, trainer, gradients, resume);
    } catch (error) {
      await gradients.close();
      throw error;
    }
  }

  /** Ends the run's threads (a run on one thread has none); the run's results stay readable. */
  close(): Promise<void> {
    return this.gradients.close();
  }

  get classification(): boolean {
    return TASKS[this.settings.task].kind === "classification";
  }

  /**
   * The parameters the run scores and keeps: the trainer's own, or their moving average when the settings ask
   * for one (a copy, or the live view when there is no average).
   */
  scoredParameters(): Float32Array {
    const theta = this.trainer.parameters();
    return this.average ? this.average.valueInto(new Float32Array(theta.length), theta) : theta;
  }

  /**
   * Validation accuracy (classification) or MSE, with alpha = 0 as at inference, of scoredParameters(), or with
   * `raw` of the trainer's parameters themselves.
   */
  validate(raw = false): { accuracy?: number; mse?: number } {
    let predictions: Float64Array[];
    if (this.average && !raw) {
      this.swap.set(this.trainer.parameters());
      this.trainer.setParameters(this.scoredParameters());
      try {
        predictions = this.gradients.predict(this.validationSet);
      } finally {
        this.trainer.setParameters(this.swap);
      }
    } else {
      predictions = this.gradients.predict(this.validationSet);
    }
    let correct = 0;
    let squared = 0;
    predictions.forEach((y, k) => {
      const label = this.validationSet[k].label;
      if (this.classification) {
        if (argmax(y) === label) correct++;
      } else {
        squared += (y[0] - label) ** 2;
      }
    });
    const n = predictions.length;
    return this.classification ? { accuracy: correct / n } : { mse: squared / n };
  }

  /** Runs epochs until settings.epochs, the time budget or the accuracy goal; returns the records of this call. */
  async run(hooks: TrainHooks = {}): Promise<EpochRecord[]> {
    const s = this.settings;
    const done: EpochRecord[] = [];
    const started = performance.now();
    const batches = Math.ceil(s.perEpoch / s.batchSize);
    const guard = this.guard;
    while (this.epochsDone < s.epochs) {
      const epoch = this.epochsDone + 1;
      const data = generate(s.task, s.perEpoch, epochSeed(s.seed, epoch));
      const epochStart = performance.now();
      let lossSum = 0;
      let lossCount = 0;
      const schedule = s.lrDecay ** (epoch - 1);
      this.objective.schedule = schedule;
      for (let b = 0; b < batches; b++) {
        this.gradients.loadBatch(data.slice(b * s.batchSize, (b + 1) * s.batchSize));
        let loss: number;
        if (guard) {
          const step = guard.step(this.objective);
          loss = step.loss;
          if (step.rolledBack) {
            // the steps since the snapshot led away: the average starts again from the restored parameters
            this.average?.reset();
            continue;
          }
        } else {
          loss = this.gradients.lossAndGradient();
          if (!Number.isFinite(loss)) throw new PhasorError("runtime", `training diverged: the loss is ${loss} at epoch ${epoch}, batch ${b + 1}`);
          this.trainer.step(schedule);
        }
        this.average?.add(this.trainer.parameters());
        lossSum += loss;
        lossCount++;
        hooks.onBatch?.(epoch, b + 1, batches, loss);
        // let a page or a progress bar breathe between batches
        if (b % 16 === 15) await Promise.resolve();
      }
      const trainSeconds = (performance.now() - epochStart) / 1000;
      const unusable = this.unusable();
      const score = unusable === undefined ? this.validate() : this.classification ? { accuracy: NaN } : { mse: NaN };
      const rawScore = this.average ? this.validate(true) : null;
      const record: EpochRecord = {
        epoch,
        loss: lossCount ? lossSum / lossCount : NaN,
        ...(score.accuracy !== undefined ? { valAccuracy: score.accuracy } : { valMse: score.mse }),
        ...(rawScore ? (rawScore.accuracy !== undefined ? { rawValAccuracy: rawScore.accuracy } : { rawValMse: rawScore.mse }) : {}),
        seconds: this.secondsBefore + (performance.now() - started) / 1000,
        sequencesPerSec: s.perEpoch / trainSeconds,
        steps: this.trainer.stepCount,
        ...(guard ? { guard: guard.takeStats(this.objective) } : {}),
        ...(this.trainer.trainROn ? { rOn: spread(this.trainer.rOnValues()) } : {}),
        ...(unusable !== undefined ? { unusable } : {}),
      };
      // NaN, for an epoch without a score, is never above the best
      const value = score.accuracy ?? -(score.mse as number);
      if (value > this.best.score) this.best = { epoch, score: value, theta: this.scoredParameters().slice() };
      this.history.push(record);
      done.push(record);
      this.epochsDone = epoch;
      await hooks.onEpoch?.(record);
      if (s.stopAtAccuracy !== undefined && this.reachedStreak(s.stopAtAccuracy, s.stopAtStreak)) break;
      if (s.timeBudgetSeconds !== undefined && record.seconds >= s.timeBudgetSeconds) break;
    }
    return done;
  }

  /**
   * Why the parameters the run scores are no model an engine can run, or undefined. A step can throw them to
   * infinity at the end of an epoch, before the guard sees the next batch's loss: before, such an epoch was
   * validated on NaN outputs, could be kept as the best, and `phasor train` wrote a model that no command loads.
   */
  private unusable(): string | undefined {
    try {
      checkModel(this.trainer.toModel(this.scoredParameters()), "");
      return undefined;
    } catch (err) {
      if (!(err instanceof PhasorError)) throw err;
      return err.message.replace(/^: /, "");
    }
  }

  /** Whether the last `streak` epochs (resumed ones included) all reached `accuracy` on the validation set. */
  private reachedStreak(accuracy: number, streak: number): boolean {
    if (this.history.length < streak) return false;
    return this.history.slice(-streak).every((r) => (r.valAccuracy ?? 0) >= accuracy);
  }

  get epoch(): number {
    return this.epochsDone;
  }

  /** The model with the best validation score so far, and the epoch it came from. */
  bestModel(): { model: FloatModel; epoch: number; score: number } {
    const current = this.trainer.parameters().slice();
    this.trainer.setParameters(this.best.theta);
    const model = this.trainer.toModel();
    this.trainer.setParameters(current);
    return { model, epoch: this.best.epoch, score: this.best.score };
  }

  checkpoint(): Checkpoint {
    return {
      format: "phasor-checkpoint",
      version: CHECKPOINT_VERSION,
      settings: this.settings,
      epoch: this.epochsDone,
      history: [...this.history],
      trainer: this.trainer.snapshot(),
      best: { ...this.best, theta: this.best.theta.slice() },
      ...(this.guard ? { guard: this.guard.state() } : {}),
      ...(this.average ? { average: this.average.state() } : {}),
    };
  }
}
