/**
 * `phasor train`: trains in wasm on a built-in task (formats.md, "Commands"; the protocol of tasks.md). Progress
 * on stderr, one JSON line per epoch on stdout and a final one; writes the best model, its learning curve (.svg)
 * and a checkpoint to resume from (.checkpoint.json) next to --out.
 */
import { PhasorError } from "../../../host/errors.js";
import { TASK_NAMES } from "../../../host/training/tasks.js";
import {
  SETTING_NAMES,
  TRAIN_SETTINGS,
  acceptsText,
  checkGivenTakeEffect,
  checkSettings,
  defaultSettings,
  settingAssignment,
  settingFromText,
  settingHelp,
  type SettingName,
  type TrainSettings,
} from "../../../host/training/settings.js";
import { defineCommand, type FlagSpecs } from "../command.js";
import { checkOutputFile } from "../../../host/files.js";
import { trainSession } from "../training-session.js";

/** The flags of the settings that have one (TRAIN_SETTINGS, in its order), with the flags of the command itself. */
function trainFlags(): FlagSpecs {
  const flags: FlagSpecs = {};
  for (const name of SETTING_NAMES) {
    const { flag, type } = TRAIN_SETTINGS[name];
    if (flag === undefined) continue;
    if ("on" in flag) {
      flags[flag.on] = { kind: "boolean", help: settingHelp(name) };
      flags[flag.off] = { kind: "boolean", help: flag.offHelp };
      continue;
    }
    const values = "words" in flag ? Object.keys(flag.words) : type.kind === "choice" ? type.values.map(String) : undefined;
    // values are read by settingFromText, so that a flag and the library refuse a value in the same words
    flags[flag.name] = values ? { kind: "enum", values, help: settingHelp(name) } : { kind: "string", value: "value" in flag ? flag.value : undefined, help: settingHelp(name) };
    if (name === "lr") flags["lr-scale"] = { kind: "number", help: "multiply the default learning rate by K" };
    if (name === "guard") flags.out = { kind: "string", required: true, value: "M.json", help: "where the best model goes" };
  }
  flags.resume = { kind: "string", value: "CKPT", help: "continue from a checkpoint written by an earlier run" };
  flags.set = { kind: "list", value: "NAME=VALUE", help: "set a setting of the list below (experiments); repeat for each" };
  return flags;
}

/** The settings without a flag, for --help: the names --set takes, what each does, its default and its range. */
function setHelp(): string {
  const names = SETTING_NAMES.filter((n) => TRAIN_SETTINGS[n].flag === undefined);
  const width = Math.max(...names.map((n) => n.length));
  const rows = names.map((n) => `  ${n.padEnd(width)}  ${settingHelp(n)}; ${acceptsText(n)}`);
  return `settings for --set NAME=VALUE (the same names as in the library's TrainSettings and in the checkpoint):\n${rows.join("\n")}\n`;
}

const FLAGS = trainFlags();
type Given = Partial<Record<SettingName, TrainSettings[SettingName]>>;

/** The settings the command line gives, by flag or by --set, each checked; the others are left to their defaults. */
function givenSettings(flags: Record<string, unknown>): Partial<TrainSettings> {
  const given: Given = {};
  for (const name of SETTING_NAMES) {
    const flag = TRAIN_SETTINGS[name].flag;
    if (flag === undefined) continue;
    if ("on" in flag) {
      if (flags[flag.on] && flags[flag.off]) throw new PhasorError("bad-args", `give --${flag.on} or --${flag.off}, not both`);
      if (flags[flag.on] || flags[flag.off]) given[name] = Boolean(flags[flag.on]);
    } else if (flags[flag.name] !== undefined) {
      given[name] = settingFromText(name, flags[flag.name] as string);
    }
  }
  for (const text of flags.set as string[]) {
    const [name, value] = settingAssignment(text);
    if (given[name] !== undefined) throw new PhasorError("bad-args", `--set ${name} is given twice`);
    given[name] = value;
  }
  return given as Partial<TrainSettings>;
}

export const command = defineCommand({
  usage:
    "--task T [--hidden H] [--epochs N] [--seed S] [--lr X | --lr-scale K] [--optimizer sgd|adam] [--guard on|off] --out M.json " +
    "[--r-on R] [--train-r-on | --fixed-r-on] [--per-epoch N] [--validation N] [--batch B] [--average D] [--time-budget S] [--stop-at A] " +
    "[--simd auto|on|off] [--threads N] [--resume CKPT] [--set NAME=VALUE ...]",
  description:
    "Trains a Phased LSTM in wasm on a built-in task with fresh sequences every epoch (docs/tasks.md), scores it\n" +
    "on a validation set drawn once, and keeps the best model. One JSON line per epoch on stdout\n" +
    '({"epoch","loss","valAccuracy" or "valMse","seconds","sequencesPerSec","steps","guard"}; with "unusable" and no score\n' +
    "when a step left parameters no engine runs, never kept) and a final one; progress on stderr. Writes --out (the\n" +
    "best model, JSON), its learning curve next to it (.svg) and a checkpoint after every epoch (.checkpoint.json)\n" +
    "that --resume continues from.\n" +
    "The stability guard (on by default; docs/stability-guard.md) caps every SGD step at c 2 (1 + beta) / lambda,\n" +
    "lambda the largest batch sharpness lambda_B of recent checks (guardEvery and guardWorstOf below say which) from\n" +
    "finite-difference Hessian-vector products, rolls back to a snapshot on a non-finite or spiking loss, and shrinks\n" +
    "the step on a growing period-2 oscillation; with Adam only the rollback acts. Its per-epoch counts go in the\n" +
    "JSON lines, and lambda_B against 2 / eta in a plot next to the model (.guard.svg; with SGD under the guard, the\n" +
    "one that measures lambda_B). On the freq1 tasks it learns\n" +
    "each unit's open ratio r_on too, from --r-on, as the authors' code does (--fixed-r-on keeps it; it costs\n" +
    "sparsity), and trains as docs/RESULTS.md measured to reach the paper within its 70 epochs: the defaults below\n" +
    "that say \"on freq1\". --average D scores, keeps and exports a moving average of the parameters (decay D per step)\n" +
    "instead of the last step's. The settings for experiments (the guard's window, the time gates' rates, the\n" +
    "initialisation, ...) are given with --set, listed after the flags.",
  flags: FLAGS,
  appendix: setHelp(),
  async run(flags, io) {
    if (flags.task === undefined) throw new PhasorError("bad-args", `missing --task T (one of ${TASK_NAMES.join(", ")})`);
    const out = flags.out as string;
    if (!out.toLowerCase().endsWith(".json")) throw new PhasorError("bad-args", `--out must name a .json file (the float model), got ${out}`);
    if (flags.lr !== undefined && flags["lr-scale"] !== undefined) throw new PhasorError("bad-args", "give --lr or --lr-scale, not both");
    const given = givenSettings(flags);
    const task = given.task as TrainSettings["task"];
    if (flags["lr-scale"] !== undefined) {
      const scale = flags["lr-scale"] as number;
      const lr = defaultSettings(task, given).lr * scale;
      if (!(scale > 0 && lr > 0 && Number.isFinite(lr))) throw new PhasorError("bad-args", `--lr-scale must be a number above 0 that leaves a finite rate, got ${scale}`);
      given.lr = lr;
    }
    const settings = defaultSettings(task, given);
    checkSettings(settings);
    // a resumed run's settings are the checkpoint's: trainSession checks what is given against those
    if (flags.resume === undefined) checkGivenTakeEffect(given, settings);
    // before any training: a run of hours must not end with nowhere to write its model
    await checkOutputFile(out, "--out");
    const resume = flags.resume === undefined ? undefined : { from: flags.resume as string, given };
    const { run, best, modelPath, curvePath, guardPath } = await trainSession(settings, out, io, resume);
    const last = run.history.at(-1);
    const guarded = run.history.filter((r) => r.guard);
    const total = (key: "rollbacks" | "cappedSteps") => guarded.reduce((sum, r) => sum + (r.guard?.[key] ?? 0), 0);
    io.stdout.write(
      JSON.stringify({
        final: true,
        task: run.settings.task,
        optimizer: run.settings.optimizer,
        lr: run.settings.lr,
        seed: run.settings.seed,
        epochs: run.epoch,
        bestEpoch: best.epoch,
        ...(run.classification ? { valAccuracy: best.score } : { valMse: -best.score }),
        lastValAccuracy: last?.valAccuracy,
        seconds: last?.seconds,
        guard: run.settings.guard === true,
        ...(guarded.length ? { rollbacks: total("rollbacks"), cappedSteps: total("cappedSteps") } : {}),
        model: modelPath,
        curve: curvePath,
        ...(guardPath ? { guardPlot: guardPath } : {}),
      }) + "\n",
    );
  },
});
