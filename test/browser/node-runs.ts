/**
 * Global setup of the browser suites, run in node before Chromium starts: checks that Chromium and the builds are
 * there, makes the cross-runtime cases, runs each in node on the same compiled library the browser loads, and
 * hands the cases and node's bits to the browser suite (inject("nodeRuns")).
 */
import { existsSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { requireChromium } from "../support/chromium.js";
import { ENGINE_CHOICES, caseBits, choiceName, runCase, type CaseBits, type CaseEvents, type Library, type RunBits } from "./cases.js";

export interface NodeRun {
  bits: CaseBits;
  /** choiceName(choice) -> what node computed */
  runs: Record<string, RunBits>;
}

declare module "vitest" {
  export interface ProvidedContext {
    nodeRuns: NodeRun[];
  }
}

interface Case {
  name: string;
  model: import("../../dist/host/index.js").FloatModel;
  /** what the model is quantized on */
  calibration: CaseEvents[];
  events: CaseEvents;
  /** the gate matrices' element in the fixed image (int16 unless given) */
  weights?: "int16" | "int8";
}

/** n timestamps from `start` with gaps log-uniform on [minGapMs, maxGapMs], inputs uniform in [-1, 1] or 0. */
function irregularEvents(rng: InstanceType<Library["Rng"]>, n: number, inputSize: number, start: number, sparsity: number): CaseEvents {
  const t = new Float64Array(n);
  let now = start;
  for (let e = 0; e < n; e++) {
    if (e > 0) now += rng.logUniform(0.006, 120_000);
    t[e] = now;
  }
  const x = new Float32Array(n * inputSize);
  for (let k = 0; k < x.length; k++) x[k] = rng.next() < sparsity ? 0 : rng.uniform(-1, 1);
  return { t, x };
}

/** freq1-async sequences one after the other, each moved to start where the previous one ended. */
function freq1Stream(samples: { t: Float64Array; x: Float64Array }[]): CaseEvents {
  const n = samples.reduce((sum, s) => sum + s.t.length, 0);
  const t = new Float64Array(n);
  const x = new Float32Array(n);
  let at = 0;
  let offset = 0;
  for (const s of samples) {
    for (let e = 0; e < s.t.length; e++) t[at + e] = offset + s.t[e];
    x.set(s.x, at);
    at += s.t.length;
    offset = t[at - 1];
  }
  return { t, x };
}

/**
 * Three cases: the web demo's model on freq1-async events, two layers whose sizes are not multiples of the SIMD
 * width, on sparse inputs at epoch-millisecond times with gaps from microseconds to minutes, and the two layers
 * again with int8 gate weights.
 */
function crossRuntimeCases(lib: Library): Case[] {
  const demoModel = lib.randomModel(new lib.Rng(1), { inputSize: 1, hidden: [110], peephole: true, rOn: 0.05, outputs: 2, mode: "last" });
  const freq1 = lib.generate("freq1-async", 24, 2);
  const rng = new lib.Rng(5);
  const deepModel = lib.randomModel(rng, { inputSize: 5, hidden: [33, 9], peephole: true, rOn: 0.2, outputs: 3, mode: "every" });
  const epochStart = 1.7e12 + rng.uniform(0, 1e10);
  const cases: Case[] = [
    {
      name: "demo model (H=110, r_on 0.05) on freq1-async",
      model: demoModel,
      calibration: freq1.slice(0, 16).map((s) => ({ t: s.t, x: Float32Array.from(s.x) })),
      events: freq1Stream(freq1.slice(16)),
    },
    {
      name: "two layers (I=5, H=[33, 9], r_on 0.2) on sparse epoch-ms events",
      model: deepModel,
      calibration: [0, 1].map(() => irregularEvents(rng, 300, 5, epochStart, 0.5)),
      events: irregularEvents(rng, 400, 5, epochStart, 0.5),
    },
  ];
  return [...cases, { ...cases[1], name: "two layers (I=5, H=[33, 9], r_on 0.2) with int8 weights", weights: "int8" }];
}

export default async function setup(project: TestProject): Promise<void> {
  requireChromium();
  for (const file of ["dist/host/index.js", "build/phasor-simd.wasm", "build/phasor-scalar.wasm"]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\``);
  }
  const lib: Library = await import("../../dist/host/node.js");
  const nodeRuns: NodeRun[] = [];
  for (const c of crossRuntimeCases(lib)) {
    const images = { fixed: lib.quantize(c.model, c.calibration, c.name, c.weights).bytes, float: lib.encodePlsm(c.model) };
    const runs: Record<string, RunBits> = {};
    for (const choice of ENGINE_CHOICES) runs[choiceName(choice)] = await runCase(lib, images, c.events, choice);
    nodeRuns.push({ bits: caseBits(c.name, images, c.events), runs });
  }
  project.provide("nodeRuns", nodeRuns);
}
