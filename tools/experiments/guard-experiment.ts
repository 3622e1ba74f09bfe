// The stability guard on Phased LSTM training (issue 4, item 4): freq1-async, SGD with momentum at multiples of a
// base rate, guard off and on, several seeds. One JSON line per run on stdout (appendable to a file), and with
// --table a markdown table of the lines in a file.
//   npx tsx tools/experiments/guard-experiment.ts --base 0.05 --multipliers 1,3,10,30 --seeds 1,2,3 --epochs 8 --per-epoch 2000 \
//     --modes off,on,on/4 >> runs.jsonl
//   npx tsx tools/experiments/guard-experiment.ts --table runs.jsonl
//   npx tsx tools/experiments/guard-experiment.ts --overhead 400 --base 0.05 --modes off,on,on/4
//   npx tsx tools/experiments/guard-experiment.ts --trace 800 --base 0.2 --clip 1
// --trace N follows N steps of plain SGD (no guard) and prints every 10th: the loss, the gradient's norm, the range
// of log tau and the largest gradient entry of each parameter group: where a non-finite loss comes from.
// --overhead N times N training steps of each mode on the same batches, interleaved in blocks of 8 steps so that
// the machine's load falls on all modes alike, and prints milliseconds per step and the guard's overhead.
// A mode is off, on (curvature every step) or on/K (every K steps). A run diverged when its loss became non-finite
// (with the epoch it reached) or when its last epoch's mean training loss is above its first epoch's (it blew up
// and did not come back). --time-lr-scale sets log tau's and shift's rate relative to the weights (default: SGD's).
// --lr-decay D multiplies the rate by D after every epoch (1: constant). --average D scores a moving average of the
// parameters (decay D per step; 0: off) instead of the parameters themselves, as `phasor train --average`.
// --train-r-on learns r_on from --r-on on. --ignore N lets the cap pass over the N largest lambda_B of its window;
// --restore-worst returns its memory to the snapshot's on a rollback; --probe-step E sets the finite-difference
// length of its Hessian-vector products (default 3e-3).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import "../../host/node.js";
import { StabilityGuard, TrainerObjective, median } from "../../host/training/guard.js";
import { generate } from "../../host/training/tasks.js";
import { Trainer, initialModel, taskModelSpec } from "../../host/training/trainer.js";
import { defaultSettings, TrainingRun, type EpochRecord } from "../../host/training/training.js";

const { values } = parseArgs({
  options: {
    base: { type: "string", default: "0.05" },
    multipliers: { type: "string", default: "1,3,10,30" },
    seeds: { type: "string", default: "1,2,3,4,5" },
    epochs: { type: "string", default: "70" },
    "per-epoch": { type: "string", default: "5000" },
    "r-on": { type: "string", default: "0.05" },
    modes: { type: "string", default: "off,on" },
    table: { type: "string" },
    overhead: { type: "string" },
    trace: { type: "string" },
    clip: { type: "string", default: "0" },
    "time-lr-scale": { type: "string" },
    "worst-of": { type: "string", default: "1" },
    ignore: { type: "string", default: "0" },
    "restore-worst": { type: "boolean", default: false },
    "probe-step": { type: "string" },
    products: { type: "string", default: "1" },
    "clip-factor": { type: "string", default: "0" },
    "lr-decay": { type: "string", default: "1" },
    average: { type: "string", default: "0" },
    "train-r-on": { type: "boolean", default: false },
  },
});

/** log tau's and shift's learning rate relative to the weights: the flag, or SGD's default */
const timeLrScale = values["time-lr-scale"] !== undefined ? Number(values["time-lr-scale"]) : defaultSettings("freq1-async", { optimizer: "sgd" }).timeLrScale;

interface RunLine {
  lr: number;
  multiplier: number;
  seed: number;
  mode: string;
  epochs: number;
  perEpoch: number;
  rOn?: number;
  timeLrScale?: number;
  worstOf?: number;
  /** the cap passed over this many of the largest lambda_B (absent in lines from before the flag: 0) */
  ignore?: number;
  /** a rollback restored the cap's memory to the snapshot's (absent: false) */
  restoreWorst?: boolean;
  /** the guard's finite-difference length for H v (absent: the default, 3e-3) */
  probeStep?: number;
  products?: number;
  clipFactor?: number;
  /** the rate of epoch e is lr * lrDecay^(e - 1) (absent in lines from before the flag: 1) */
  lrDecay?: number;
  /** the decay of the scored parameter average (absent in lines from before the flag: 0, off) */
  average?: number;
  /** r_on trained from rOn (absent: false) */
  trainROn?: boolean;
  clippedSteps?: number;
  diverged: boolean;
  /** the loss became non-finite (else a divergence is a loss that ended above where it started) */
  nonFiniteLoss?: boolean;
  firstLoss?: number | null;
  lastLoss?: number | null;
  epochsDone: number;
  finalAccuracy: number | null;
  /** with --average, the last epoch's accuracy of the parameters themselves (finalAccuracy is the average's) */
  finalRawAccuracy?: number | null;
  bestAccuracy: number | null;
  seconds: number;
  cappedSteps: number;
  steps: number;
  rollbacks: number;
  nonFinite: number;
  oscillations: number;
  lambdaMedian: number | null;
  lambdaMax: number | null;
  threshold: number;
  effectiveLr: number | null;
  error?: string;
}

async function one(lr: number, multiplier: number, seed: number, mode: string): Promise<RunLine> {
  const every = mode.startsWith("on/") ? Number(mode.slice(3)) : 1;
  const settings = defaultSettings("freq1-async", {
    optimizer: "sgd",
    lr,
    seed,
    epochs: Number(values.epochs),
    perEpoch: Number(values["per-epoch"]),
    rOn: Number(values["r-on"]),
    guard: mode !== "off",
    guardEvery: every,
    guardWorstOf: Number(values["worst-of"]),
    guardIgnore: Number(values.ignore),
    guardRestoreWorst: values["restore-worst"],
    guardProbeStep: values["probe-step"] === undefined ? undefined : Number(values["probe-step"]),
    guardProducts: Number(values.products),
    guardClip: Number(values["clip-factor"]),
    lrDecay: Number(values["lr-decay"]),
    average: Number(values.average),
    trainROn: values["train-r-on"],
    timeLrScale,
  });
  const run = await TrainingRun.create(settings);
  const started = performance.now();
  let error: string | undefined;
  try {
    await run.run();
  } catch (err) {
    error = (err as Error).message;
  }
  const h: EpochRecord[] = run.history;
  const nonFiniteLoss = error !== undefined && /diverged/.test(error);
  const g = h.flatMap((r) => (r.guard ? [r.guard] : []));
  const sum = (f: (x: (typeof g)[number]) => number) => g.reduce((s, x) => s + f(x), 0);
  const medians = g.flatMap((x) => (x.lambdaMedian === null ? [] : [x.lambdaMedian]));
  const maxes = g.flatMap((x) => (x.lambdaMax === null ? [] : [x.lambdaMax]));
  return {
    lr, multiplier, seed, mode, epochs: settings.epochs, perEpoch: settings.perEpoch,
    rOn: settings.rOn,
    timeLrScale: settings.timeLrScale,
    worstOf: settings.guardWorstOf,
    ignore: settings.guardIgnore,
    restoreWorst: settings.guardRestoreWorst,
    ...(settings.guardProbeStep !== undefined ? { probeStep: settings.guardProbeStep } : {}),
    products: settings.guardProducts,
    clipFactor: settings.guardClip,
    lrDecay: settings.lrDecay,
    average: settings.average,
    trainROn: settings.trainROn,
    diverged: nonFiniteLoss || (h.length > 1 && (h.at(-1) as EpochRecord).loss > h[0].loss),
    nonFiniteLoss,
    firstLoss: h[0]?.loss ?? null,
    lastLoss: h.at(-1)?.loss ?? null,
    epochsDone: run.epoch,
    finalAccuracy: h.at(-1)?.valAccuracy ?? null,
    ...(settings.average ? { finalRawAccuracy: h.at(-1)?.rawValAccuracy ?? null } : {}),
    bestAccuracy: h.length ? Math.max(...h.map((r) => r.valAccuracy ?? 0)) : null,
    seconds: (performance.now() - started) / 1000,
    cappedSteps: sum((x) => x.cappedSteps),
    clippedSteps: sum((x) => x.clippedSteps ?? 0),
    steps: sum((x) => x.steps),
    rollbacks: sum((x) => x.rollbacks),
    nonFinite: sum((x) => x.nonFinite),
    oscillations: sum((x) => x.oscillations),
    // the median of the per-epoch medians, and the largest lambda_B of the run
    lambdaMedian: medians.length ? median(medians) : null,
    lambdaMax: maxes.length ? Math.max(...maxes) : null,
    threshold: (2 * (1 + settings.momentum)) / lr,
    effectiveLr: g.length ? sum((x) => x.effectiveLr) / g.length : null,
    ...(error ? { error } : {}),
  };
}

function table(path: string): void {
  const lines: RunLine[] = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const keyOf = (l: RunLine) => `${l.epochs}|${l.perEpoch}|${l.rOn ?? ""}|${l.timeLrScale ?? ""}|${l.lr}|${l.mode}|${l.worstOf ?? 1}|${l.ignore ?? 0}|${l.restoreWorst ?? false}|${l.probeStep ?? ""}|${l.products ?? 1}|${l.clipFactor ?? 0}|${l.lrDecay ?? 1}|${l.average ?? 0}|${l.trainROn ?? false}`;
  const keys = [...new Set(lines.map(keyOf))];
  const fmt = (x: number | null, digits = 1) => (x === null || !Number.isFinite(x) ? "-" : x.toFixed(digits));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // lines from before nonFiniteLoss existed counted only a NaN as diverged
  const nan = (l: RunLine) => l.nonFiniteLoss ?? l.diverged;
  console.log(
    "| epochs x sequences | r_on | x | lr (decay) | guard | runs | diverged | final acc. % (mean, min..max) | >= 97 % | s per run | capped % | rollbacks | lambda_B median / max | 2(1+b)/eta | mean eff. lr |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const key of keys) {
    const group = lines.filter((l) => keyOf(l) === key);
    const l0 = group[0];
    // every run that has a last epoch counts, diverged or not: a blown-up run scores what it scores
    const acc = group.flatMap((l) => (l.finalAccuracy === null || nan(l) ? [] : [100 * l.finalAccuracy]));
    const accText = acc.length ? `${fmt(mean(acc))} (${fmt(Math.min(...acc))}..${fmt(Math.max(...acc))})` : "-";
    const reached = group.filter((l) => !nan(l) && (l.finalAccuracy ?? 0) >= 0.97).length;
    const diverged = group.filter((l) => l.diverged);
    const how = diverged.map((l) => (nan(l) ? `NaN in epoch ${l.epochsDone + 1}` : "loss up"));
    const divText = `${diverged.length}${diverged.length ? ` (${how.join(", ")})` : ""}`;
    const steps = group.reduce((s, l) => s + l.steps, 0);
    const capped = group.reduce((s, l) => s + l.cappedSteps, 0);
    const meds = group.flatMap((l) => (l.lambdaMedian === null ? [] : [l.lambdaMedian]));
    const maxes = group.flatMap((l) => (l.lambdaMax === null ? [] : [l.lambdaMax]));
    const eff = group.flatMap((l) => (l.effectiveLr === null ? [] : [l.effectiveLr]));
    const off = l0.mode === "off";
    console.log(
      `| ${l0.epochs} x ${l0.perEpoch} | ${l0.rOn ?? "-"}${l0.trainROn ? " (trained)" : ""} | ${l0.multiplier} | ${l0.lr}${(l0.lrDecay ?? 1) < 1 ? ` (x${l0.lrDecay}/epoch)` : ""} | ${l0.mode}${(l0.worstOf ?? 1) !== 1 && l0.mode !== "off" ? `, worst of ${l0.worstOf === 0 ? "all" : l0.worstOf}` : ""}${(l0.ignore ?? 0) > 0 && l0.mode !== "off" ? ` but ${l0.ignore}` : ""}${l0.restoreWorst && l0.mode !== "off" ? ", kept on rollback" : ""}${l0.probeStep !== undefined && l0.mode !== "off" ? `, probe ${l0.probeStep}` : ""}${(l0.products ?? 1) > 1 && l0.mode !== "off" ? `, ${l0.products} products` : ""}${(l0.clipFactor ?? 0) > 0 && l0.mode !== "off" ? `, clip ${l0.clipFactor}x` : ""}${(l0.average ?? 0) > 0 ? `, average ${l0.average}` : ""} | ${group.length} | ${divText} | ${accText} | ${reached} of ${group.length} | ` +
        `${fmt(mean(group.map((l) => l.seconds)))} | ${off ? "-" : fmt((100 * capped) / Math.max(1, steps))} | ${off ? "-" : group.reduce((s, l) => s + l.rollbacks, 0)} | ` +
        `${meds.length ? `${fmt(median(meds))} / ${fmt(Math.max(...maxes))}` : "-"} | ${fmt(l0.threshold, 2)} | ${eff.length ? mean(eff).toPrecision(3) : "-"} |`,
    );
  }
}

async function overhead(steps: number): Promise<void> {
  const batch = 32;
  const data = generate("freq1-async", steps * batch, 77);
  const modes = values.modes.split(",");
  const lanes = await Promise.all(
    modes.map(async (mode) => {
      const trainer = await Trainer.create(initialModel({ ...taskModelSpec("freq1-async"), rOn: Number(values["r-on"]) }, 1), {
        batchSize: batch, maxLength: 125, optimizer: "sgd", lr: Number(values.base), momentum: 0.9, timeOrigin: "absolute", timeLrScale,
      });
      const every = mode.startsWith("on/") ? Number(mode.slice(3)) : 1;
      const guard = mode === "off" ? null : new StabilityGuard(trainer.parameterCount, { every, seed: 1 });
      return { mode, trainer, objective: new TrainerObjective(trainer), guard, ms: 0 };
    }),
  );
  const block = 8;
  for (let first = 0; first < steps; first += block) {
    for (const lane of lanes) {
      const started = performance.now();
      for (let k = first; k < Math.min(steps, first + block); k++) {
        lane.trainer.loadBatch(data.slice(k * batch, (k + 1) * batch));
        if (lane.guard) lane.guard.step(lane.objective);
        else {
          lane.trainer.lossAndGradient();
          lane.trainer.step();
        }
      }
      lane.ms += performance.now() - started;
    }
  }
  const plain = lanes.find((l) => l.mode === "off")?.ms ?? NaN;
  for (const lane of lanes) {
    const line = { mode: lane.mode, steps, msPerStep: lane.ms / steps, overheadPercent: (100 * (lane.ms - plain)) / plain };
    process.stdout.write(JSON.stringify(line) + "\n");
  }
}

async function trace(steps: number): Promise<void> {
  const batch = 32;
  const trainer = await Trainer.create(initialModel({ ...taskModelSpec("freq1-async"), rOn: Number(values["r-on"]) }, 1), {
    batchSize: batch, maxLength: 125, optimizer: "sgd", lr: Number(values.base), momentum: 0.9, clipNorm: Number(values.clip), timeOrigin: "absolute", timeLrScale,
  });
  const data = generate("freq1-async", steps * batch, 99);
  const range = (a: Float32Array, name: string) => {
    const g = trainer.groups.find((x) => x.name === name)!;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = g.offset; i < g.offset + g.length; i++) [lo, hi] = [Math.min(lo, a[i]), Math.max(hi, a[i])];
    return [lo, hi];
  };
  const largest = (a: Float32Array, name: string) => Math.max(...range(a, name).map(Math.abs));
  for (let k = 0; k < steps; k++) {
    trainer.loadBatch(data.slice(k * batch, (k + 1) * batch));
    const loss = trainer.lossAndGradient();
    const g = trainer.gradient();
    let squares = 0;
    for (let i = 0; i < g.length; i++) squares += g[i] * g[i];
    const norm = Math.sqrt(squares);
    const bad = !Number.isFinite(loss) || !Number.isFinite(norm);
    if (k % 10 === 0 || bad) {
      const line = {
        step: k, loss, gradientNorm: norm, logTau: range(trainer.parameters(), "logTau"),
        largestGradient: Object.fromEntries(["W", "U", "b", "logTau", "shift", "V"].map((name) => [name, largest(g, name)])),
      };
      process.stdout.write(JSON.stringify(line) + "\n");
    }
    if (bad) break;
    trainer.step();
  }
}

if (values.table) {
  table(values.table);
} else if (values.trace) {
  await trace(Number(values.trace));
} else if (values.overhead) {
  await overhead(Number(values.overhead));
} else {
  const base = Number(values.base);
  for (const seed of values.seeds.split(",").map(Number)) {
    for (const multiplier of values.multipliers.split(",").map(Number)) {
      // modes interleaved per (seed, rate), so that the load of the machine falls on all of them alike
      for (const mode of values.modes.split(",")) {
        const line = await one(Number((base * multiplier).toPrecision(6)), multiplier, seed, mode);
        process.stdout.write(JSON.stringify(line) + "\n");
      }
    }
  }
}
