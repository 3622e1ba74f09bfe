// What a library caller hands the API and the API did not use, or used wrongly, is refused with a PhasorError that
// says what and where: a misspelt option or setting (the default ran in its place, unsaid), a setting that does not
// act in its run, a checkpoint resumed under another run's settings, calibration inputs that were counted but never
// run, a trainer snapshot whose step count the module would truncate, use after dispose, another model's snapshot
// in a reference stream, a model object changed after its engine was made, and bytes, samples, output arrays,
// readouts and units that are not what was asked for. Each case says what happened before.
import "../host/node.js";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import type { Engine } from "../host/engine/engine.js";
import { EventParser, parseEvents } from "../host/engine/events.js";
import { ExactPhase } from "../host/engine/phase.js";
import { FloatReadout } from "../host/engine/readout-learning.js";
import { ReferenceEngine } from "../host/engine/reference.js";
import { setWasmSource } from "../host/engine/wasm-source.js";
import { parseModelText, type FloatModel } from "../host/model/model.js";
import { decodePlsm, encodePlsm } from "../host/model/plsm.js";
import { quantize } from "../host/model/quantize.js";
import { quantizeChecked } from "../host/model/quantize-checked.js";
import { generate, type TaskName } from "../host/training/tasks.js";
import { Trainer, initialModel } from "../host/training/trainer.js";
import { checkSettings, checkSettingsTakeEffect, defaultSettings, type TrainSettings } from "../host/training/settings.js";
import { TrainingRun, checkpointSettings } from "../host/training/training.js";
import { asyncRejection, rejection, stateOf } from "./support/engines.js";
import { Rng, randomModel } from "./support/random.js";

const TINY = readFileSync("examples/tiny-model.json", "utf8");
const tiny = (): FloatModel => parseModelText(TINY, "tiny-model.json");
const CALIBRATION = [{ t: Float64Array.from([0, 0.52, 2.48, 5.01]), x: Float64Array.from([0.31, 0.77, -0.2, 0.05]) }];

async function engines(): Promise<[string, Engine][]> {
  const fixed = loadModelBytes(quantize(tiny(), CALIBRATION, "tiny").bytes, "tiny.plsm");
  return [
    ["reference", await createEngine(tiny(), { engine: "reference" })],
    ["float", await createEngine(tiny(), { engine: "float" })],
    ["fixed", await createEngine(fixed, { engine: "fixed" })],
  ];
}

describe("an option no one reads is refused, naming it and the options there are", () => {
  it("createEngine: { engin: 'reference' } ran the fixed engine (the default) before", async () => {
    const fixed = loadModelBytes(quantize(tiny(), CALIBRATION, "tiny").bytes, "tiny.plsm");
    const error = await asyncRejection(() => createEngine(fixed, { engin: "reference" } as never), "bad-args", "engin");
    expect(error.message).toBe('createEngine: unknown option "engin"; the options are engine, simd');
    // options left undefined are options not given, as the CLI passes them
    expect((await createEngine(fixed, { engine: undefined, simd: undefined })).kind).toBe("fixed");
  });

  it("createStream: { timepolicy: 'clamp' } gave a stream that rejects earlier events, in every engine", async () => {
    for (const [name, engine] of await engines()) {
      const error = rejection(() => engine.createStream({ timepolicy: "clamp" } as never), "bad-args", name);
      expect(error.message, name).toBe('stream options: unknown option "timepolicy"; the options are timePolicy');
    }
  });

  it("ReferenceEngine: { alfa: 'model' } ran with alpha 0", () => {
    expect(rejection(() => new ReferenceEngine(tiny(), { alfa: "model" } as never), "bad-args").message).toMatch(/ReferenceEngine: unknown option "alfa"/);
    expect(rejection(() => new ReferenceEngine(tiny(), null as never), "bad-args").message).toMatch(/ReferenceEngine: expected options as an object/);
  });

  it("learning.learn: { eta, cap } learned with the default cap c = 0.9, and changes nothing when refused", async () => {
    const fixed = (await engines())[2][1];
    const stream = fixed.createStream();
    stream.push(1, [0.5]);
    const error = rejection(() => stream.learning!.learn(0.2, { eta: 0.1, cap: 0.5 } as never), "bad-args");
    expect(error.message).toBe('learning rate: unknown option "cap"; the options are eta, c');
    expect(stream.learning!.adapted).toBe(false);
  });

  it("Trainer.create: a misspelt option, options that are no object, a learning rate as text", async () => {
    const model = initialModel({ inputSize: 1, hidden: [4], outputs: 2 }, 1);
    const base = { batchSize: 2, maxLength: 5 };
    // before: trained at the default rate of 1e-3
    expect((await asyncRejection(() => Trainer.create(model, { ...base, learningRate: 0.5 } as never), "bad-args")).message).toMatch(/^Trainer\.create: unknown option "learningRate"; the options are batchSize, maxLength, loss, optimizer, lr,/);
    // before: a TypeError
    expect((await asyncRejection(() => Trainer.create(model, null as never), "bad-args")).message).toMatch(/Trainer\.create: expected options as an object, got null/);
    // before: the module converted "0.1" to a number
    expect((await asyncRejection(() => Trainer.create(model, { ...base, lr: "0.1" } as never), "bad-args")).message).toBe('lr must be a number, got "0.1"');
  });

  it("Trainer.create: an option of the optimizer that is not running (SGD's momentum under Adam, Adam's betas under SGD)", async () => {
    const model = initialModel({ inputSize: 1, hidden: [4], outputs: 2 }, 1);
    const base = { batchSize: 2, maxLength: 5 };
    // before: Adam ran with beta1 0.9 and momentum 0.5 was not used; SGD ran with momentum 0.9 and beta1 0.5 not used
    expect((await asyncRejection(() => Trainer.create(model, { ...base, momentum: 0.5 }), "bad-args")).message).toBe('Trainer.create: momentum is an option of sgd, and the optimizer is "adam"');
    expect((await asyncRejection(() => Trainer.create(model, { ...base, optimizer: "sgd", beta1: 0.5 }), "bad-args")).message).toBe('Trainer.create: beta1 is an option of adam, and the optimizer is "sgd"');
    expect((await asyncRejection(() => Trainer.create(model, { ...base, optimizer: "sgd", epsilon: 1e-6 }), "bad-args")).message).toMatch(/epsilon is an option of adam/);
    expect((await asyncRejection(() => Trainer.create(model, { ...base, optimizer: "rmsprop" as never, momentum: 0.5 }), "bad-args")).message).toBe('optimizer must be "adam" or "sgd", got "rmsprop"');
    expect((await Trainer.create(model, { ...base, optimizer: "sgd", momentum: 0.5 })).momentum).toBe(0.5);
    expect((await Trainer.create(model, { ...base, beta1: 0.8 })).momentum).toBe(0.8);
  });

  it("quantize: a weight width or U format it does not know ran as int16 and pairs", async () => {
    expect(rejection(() => quantize(tiny(), CALIBRATION, "m", "int4" as never), "bad-args").message).toBe("quantize: weights must be one of int16, int8, got \"int4\"");
    expect(rejection(() => quantize(tiny(), CALIBRATION, "m", "int16", "fnie" as never), "bad-args").message).toBe('quantize: U formats must be "pairs" or "fine", got "fnie"');
    expect((await asyncRejection(() => quantizeChecked(tiny(), CALIBRATION, "m", "int16", "fnie" as never), "bad-args")).message).toBe("quantize: U formats must be one of auto, pairs, fine, got \"fnie\"");
  });
});

describe("a training setting no one reads, or one the task cannot use, is refused", () => {
  it("a misspelt setting: defaultSettings dropped it, checkSettings let it through", () => {
    expect(rejection(() => defaultSettings("freq1-async", { hiden: 5 } as never), "bad-args").message).toMatch(/^defaultSettings: "hiden" is not a training setting; the settings are task, hidden, epochs,/);
    const settings = { ...defaultSettings("freq1-async"), lerningRate: 0.1 };
    expect(rejection(() => checkSettings(settings), "bad-args").message).toMatch(/^settings: "lerningRate" is not a training setting/);
  });

  it("a checkpoint of the runs that had the gate clip resumes when it was off, and is refused when it was on", () => {
    const saved = { ...defaultSettings("freq1-async") };
    expect(checkpointSettings({ version: 2, settings: { ...saved, gateClip: 0 } }, "ck.json").hidden).toBe(saved.hidden);
    const error = rejection(() => checkpointSettings({ version: 2, settings: { ...saved, gateClip: 10 } }, "ck.json"), "bad-input");
    // before: "ck.json: settings: settings: ...", the checkpoint's field named twice
    expect(error.message).toMatch(/^ck\.json: settings: "gateClip" is not a training setting/);
    // a value out of range is named under the checkpoint's settings as before
    expect(rejection(() => checkpointSettings({ version: 2, settings: { ...saved, lr: -1 } }, "ck.json"), "bad-input").message).toMatch(/^ck\.json: settings: lr \(--lr\) must be in/);
  });

  it("a fresh run made in code with a setting that does not act in it: before, momentum under Adam, a trained r_on's rate with r_on fixed, a streak without a goal, stopAtAccuracy on a regression task (never met, or at 0 met after the first epoch) and the guard's settings with the guard off were dropped", async () => {
    // the rules are the ones the CLI holds the settings it is given to (checkGivenTakeEffect); in code only a value
    // other than the default says it was given
    const refused: [TaskName, Partial<TrainSettings>, string][] = [
      ["freq1-async", { optimizer: "adam", momentum: 0.3 }, "momentum 0.3 would change nothing: it is SGD's, and the optimizer is Adam (--optimizer adam), which keeps moments of its own"],
      ["freq1-async", { trainROn: false, rOnLrScale: 5 }, "rOnLrScale 5 would change nothing: r_on is not trained in this run (--train-r-on trains it)"],
      ["freq1-async", { stopAtStreak: 3 }, "stopAtStreak 3 would change nothing: no stopAtAccuracy (--stop-at) is given for a streak to reach"],
      ["adding", { stopAtAccuracy: 0.9 }, "stopAtAccuracy (--stop-at) 0.9 would change nothing: adding is a regression task, scored by its validation MSE, never by accuracy"],
      ["freq1-async", { guard: false, guardEvery: 7 }, "guardEvery 7 would change nothing: the stability guard is off (--guard off)"],
      ["freq1-async", { optimizer: "adam", guardWorstOf: 16 }, "guardWorstOf 16 would change nothing: only SGD's guard checks the curvature; with Adam only its rollback acts"],
    ];
    for (const [task, overrides, message] of refused) {
      expect(rejection(() => checkSettingsTakeEffect(defaultSettings(task, overrides)), "bad-args", message).message).toBe(message);
    }
    expect((await asyncRejection(() => TrainingRun.create(defaultSettings("freq1-async", { optimizer: "adam", momentum: 0.3 })), "bad-args")).message).toMatch(/^momentum 0\.3 would change nothing/);
    for (const overrides of [
      { optimizer: "sgd", momentum: 0.3 },
      { optimizer: "adam" },
      { trainROn: true, rOnLrScale: 5 },
      { trainROn: false },
      { stopAtAccuracy: 0.9, stopAtStreak: 3 },
      { optimizer: "sgd", guard: true, guardEvery: 7 },
      { guard: false },
    ] as Partial<TrainSettings>[]) {
      expect(() => checkSettingsTakeEffect(defaultSettings("freq1-async", overrides)), JSON.stringify(overrides)).not.toThrow();
    }
  });
});

describe("use after dispose", () => {
  it("memory() of a disposed engine: the wasm engines read the numbers from the freed model block before", async () => {
    for (const [name, engine] of await engines()) {
      engine.dispose();
      expect(rejection(() => engine.memory(), "runtime", name).message, name).toMatch(/dispose/);
    }
  });

  it("stats() of a disposed reference stream, as the wasm engines refuse it (before: the counts)", async () => {
    for (const [name, engine] of await engines()) {
      const stream = engine.createStream();
      stream.push(1, [0.5]);
      stream.dispose();
      expect(rejection(() => stream.stats(), "runtime", name).message, name).toMatch(/dispose/);
    }
  });
});

describe("quantize's calibration is run as given, or refused", () => {
  it("x longer than t.length x inputSize: the extra numbers widened the input format without being run", () => {
    const extra = [{ t: Float64Array.from([0, 1]), x: Float64Array.from([0.3, 0.2, 100]) }];
    const error = rejection(() => quantize(tiny(), extra, "m"), "bad-input");
    expect(error.message).toBe("calibration sequence 0: x has 3 numbers, 2 events x 1 (inputSize) need 2");
    const short = [CALIBRATION[0], { t: Float64Array.from([0, 1]), x: Float64Array.from([0.3]) }];
    expect(rejection(() => quantize(tiny(), short, "m"), "bad-input").message).toMatch(/^calibration sequence 1: x has 1 numbers/);
  });

  it("sequences without events: the formats were the defaults, chosen from nothing", () => {
    const empty = [{ t: new Float64Array(0), x: new Float64Array(0) }];
    expect(rejection(() => quantize(tiny(), empty, "m"), "bad-input").message).toBe("calibration: no events to calibrate on");
    expect(rejection(() => quantize(tiny(), [{ t: [0], x: [0.1] }] as never, "m"), "bad-input").message).toMatch(/calibration sequence 0: expected \{ t: Float64Array/);
  });
});

describe("a trainer snapshot is restored whole or not at all", () => {
  it("a step count that is not a whole number >= 0: truncated (2.5 -> 2, NaN -> 0) or taken negative before", async () => {
    const trainer = await Trainer.create(initialModel({ inputSize: 1, hidden: [4], outputs: 2 }, 1), { batchSize: 2, maxLength: 5 });
    trainer.loadBatch([{ t: [0, 1], x: [0.1, 0.2], label: 1 }]);
    trainer.lossAndGradient();
    trainer.step();
    const good = trainer.snapshot();
    for (const stepCount of [2.5, Number.NaN, -3, 2 ** 31, "3"]) {
      const bad = { ...trainer.snapshot(), theta: new Float32Array(trainer.parameterCount), stepCount } as never;
      expect(rejection(() => trainer.restore(bad), "bad-input", String(stepCount)).message).toMatch(/^snapshot: stepCount must be a whole number in 0\.\.2147483647/);
      expect(trainer.snapshot(), String(stepCount)).toEqual(good);
    }
    for (const bad of [null, {}, { theta: null, moment1: good.moment1, moment2: good.moment2, stepCount: 1 }]) {
      expect(rejection(() => trainer.restore(bad as never), "bad-input").message).toMatch(/snapshot: expected \{ theta, moment1, moment2, stepCount \}/);
    }
  });
});

describe("what a model, a phase or a file is made from", () => {
  it("randomModel with options that make no model: before, a model with r_on NaN or no layers came back", () => {
    const options = { inputSize: 1, hidden: [3], peephole: true, rOn: 0.1, outputs: 1, mode: "every" as const };
    expect(rejection(() => randomModel(new Rng(1), { ...options, rOn: Number.NaN }), "bad-model").message).toMatch(/^randomModel: layers\[0\]\.rOn\[0\]/);
    expect(rejection(() => randomModel(new Rng(1), { ...options, hidden: [] }), "bad-model").message).toMatch(/^randomModel: layers: expected an array of 1 to 64 layers/);
    expect(rejection(() => randomModel(new Rng(1), { ...options, hidden: [1.5] }), "bad-model").message).toMatch(/^randomModel: layers\[0\]\.hiddenSize/);
  });

  it("randomModel with its arguments swapped, or a misspelt option: before, a TypeError or the default", () => {
    const options = { inputSize: 1, hidden: [3], peephole: true, rOn: 0.1, outputs: 1, mode: "every" as const };
    const swapped = randomModel as unknown as (a: unknown, b: unknown) => unknown;
    expect(rejection(() => swapped(options, new Rng(1)), "bad-args").message).toMatch(/first argument must be an Rng/);
    expect(rejection(() => swapped(new Rng(1), null), "bad-args").message).toMatch(/options must be an object/);
    expect(rejection(() => swapped(new Rng(1), { ...options, hidden: 3 }), "bad-args").message).toMatch(/hidden must be an array/);
    expect(rejection(() => swapped(new Rng(1), { ...options, tauRnage: [1, 2] }), "bad-args").message).toMatch(/unknown option "tauRnage"/);
  });

  it("ExactPhase: an output array too short for the units (before: the units beyond it were not computed, unsaid), a unit that does not exist", () => {
    const phase = new ExactPhase(Float64Array.from([3, 5, 7]), Float64Array.from([0, 1, 2]));
    expect(rejection(() => phase.phases(4, new Float64Array(2)), "bad-args").message).toBe("ExactPhase.phases: out must be a Float64Array with room for 3 phases, got 2");
    expect(rejection(() => phase.phases(4, [0, 0, 0] as never), "bad-args").message).toMatch(/out must be a Float64Array/);
    expect(rejection(() => phase.phase(4, 3), "bad-args").message).toBe("ExactPhase.phase: unit 3 does not exist, the units are 0..2");
    const out = new Float64Array(3);
    phase.phases(4, out);
    expect(Array.from(out)).toEqual([1, 3, 2].map((r, j) => r / [3, 5, 7][j]));
    expect(phase.phase(4, 2)).toBe(out[2]);
  });

  it("model bytes that are not bytes: a TypeError (an array), or a string read as if it were a file", () => {
    expect(rejection(() => loadModelBytes([1, 2, 3] as never, "m.plsm"), "bad-args").message).toBe("m.plsm: expected the file's bytes as a Uint8Array, got object");
    expect(rejection(() => decodePlsm("PLSM" as never, "m.plsm"), "bad-args").message).toBe("m.plsm: expected the file's bytes as a Uint8Array, got string");
  });
});

it("a refused option leaves a stream as it was", async () => {
  const fixed = (await engines())[2][1];
  const stream = fixed.createStream();
  stream.push(1, [0.5]);
  const before = stateOf(stream);
  rejection(() => stream.learning!.learn(0, { eta: 0.1, cap: 1 } as never), "bad-args");
  expect(Buffer.from(stateOf(stream).bytes).equals(Buffer.from(before.bytes))).toBe(true);
});

describe("the reference engine holds its model as the wasm engines hold theirs", () => {
  const shape = { inputSize: 2, hidden: [5], peephole: true, rOn: 0.3, outputs: 2, mode: "every" as const };
  const T = [0, 0.7, 1.9, 3.2, 4.4];
  const run = (engine: Engine) => {
    const stream = engine.createStream();
    T.forEach((t, e) => stream.push(t, [Math.sin(e), Math.cos(e)]));
    return stream;
  };

  it("a snapshot of another model of the same shape is refused (before: restored, and run on with this model's weights)", async () => {
    for (const kind of ["reference", "float"] as const) {
      const own = await createEngine(randomModel(new Rng(1), shape), { engine: kind });
      const other = await createEngine(randomModel(new Rng(2), shape), { engine: kind });
      const stream = run(own);
      const before = stateOf(stream);
      expect(rejection(() => stream.restore(run(other).snapshot()), "bad-input", kind).message, kind).toMatch(/^snapshot: taken from a stream of another model/);
      expect(Buffer.from(stateOf(stream).bytes).equals(Buffer.from(before.bytes)), kind).toBe(true);
    }
    // another engine of the same model, and one of an equal copy of it, take the snapshot
    const model = randomModel(new Rng(1), shape);
    const saved = run(new ReferenceEngine(model)).snapshot();
    for (const engine of [new ReferenceEngine(model), new ReferenceEngine(structuredClone(model))]) engine.createStream().restore(saved);
    // a version-1 snapshot (no checksum: 6 header words for one layer, 24 bytes) is still read, by its shape
    const v1 = new Uint8Array(saved.length - 8);
    v1.set(saved.subarray(0, 24));
    new DataView(v1.buffer).setUint32(4, 1, true);
    v1.set(saved.subarray(32), 24);
    const restored = new ReferenceEngine(model).createStream();
    restored.restore(v1);
    expect(restored.snapshot()).toEqual(saved);
    // the leak in use is part of what a stream runs with
    expect(rejection(() => new ReferenceEngine(model, { alpha: "model" }).createStream().restore(saved), "bad-input").message).toMatch(/another model/);
  });

  it("changing the model object after createEngine changes nothing the engine runs (before: the reference ran the new weights with the old phases)", async () => {
    const model = randomModel(new Rng(3), shape);
    const engines = [await createEngine(model, { engine: "reference" }), await createEngine(model, { engine: "float" })];
    const before = engines.map((engine) => run(engine).output());
    model.layers[0].W.fill(0.5);
    model.layers[0].tau[0] *= 3;
    model.readout.d[0] = 7;
    engines.forEach((engine, k) => expect(Array.from(run(engine).output()), engine.kind).toEqual(Array.from(before[k])));
    for (const engine of engines) expect(engine.model.readout.d[0], engine.kind).not.toBe(7);
  });
});

describe("the refusals of the tasks, the seeded generator and the event parser are PhasorErrors (before: RangeErrors)", () => {
  it("a caller that tells refusals by their class (as the CLI maps them to exit 2) sees them as bad arguments", () => {
    for (const [what, action] of [
      ["an unknown task", () => generate("freq3" as TaskName, 1, 0)],
      ["n = -1", () => generate("adding", -1, 0)],
      ["seed 1.5", () => new Rng(1.5)],
      ["inputSize 0", () => new EventParser({ inputSize: 0 })],
      ["maxLineBytes 0", () => new EventParser({ inputSize: 1, maxLineBytes: 0 })],
    ] as [string, () => unknown][]) {
      rejection(action, "bad-args", what);
    }
  });
});

describe("FloatReadout takes a readout and an h of its shape", () => {
  it("a V that is no whole number of rows of d: before, a fractional hiddenSize and outputs mixed across rows", () => {
    expect(rejection(() => new FloatReadout({ V: [1, 2, 3], d: [0, 0] }), "bad-args").message).toBe("FloatReadout: V has 3 numbers, not a whole number of rows of the 2 outputs d has");
    expect(rejection(() => new FloatReadout({ V: [], d: [] }), "bad-args").message).toMatch(/V has 0 numbers/);
    expect(rejection(() => new FloatReadout({ V: [1, Number.NaN], d: [0] }), "bad-args").message).toBe("FloatReadout: V[1] is NaN, expected a finite number");
  });

  it("an h shorter than the readout's: before, learn() wrote NaN into V", () => {
    const readout = new FloatReadout({ V: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], d: [0, 0] });
    expect(rejection(() => readout.learn([0.5, 0.5], 1, { eta: 0.1 }), "bad-input").message).toBe("FloatReadout: h has 2 numbers, the readout takes 3");
    expect(rejection(() => readout.output([0.5, Number.NaN, 0]), "bad-input").message).toBe("FloatReadout: h[1] is NaN, expected a finite number");
    expect(Array.from(readout.V)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    expect(readout.steps).toBe(0);
    readout.learn([0.5, 0.5, 0.5], 1, { eta: 0.1 });
    expect(readout.V.every(Number.isFinite)).toBe(true);
  });
});

describe("the trainer's samples and predictions", () => {
  it("a sample that is no object, or whose t, x or target are not numbers: before, a TypeError or strings converted on the copy", async () => {
    const trainer = await Trainer.create(initialModel({ inputSize: 1, hidden: [4], outputs: 1, readout: "every" }, 1), { batchSize: 2, maxLength: 5 });
    const good = { t: [0, 1], x: [0.1, 0.2], target: [1, 0] };
    for (const [sample, message] of [
      [null, /^sample 1: expected \{ t, x, label or target \}, got null/],
      [{ x: [0.1], target: [1] }, /^sample 1: t is undefined, expected an array of numbers/],
      [{ ...good, t: ["0", "1"] }, /^sample 1: t\[0\] is string, expected a number/],
      [{ ...good, target: [1, "0"] }, /^sample 1: target\[1\] is string, expected a number/],
      [{ ...good, x: "0.1,0.2" }, /^sample 1: x is string, expected an array of numbers/],
    ] as [unknown, RegExp][]) {
      expect(rejection(() => trainer.loadBatch([good, sample as never]), "bad-input").message).toMatch(message);
    }
    trainer.loadBatch([good, { t: Float64Array.from([0, 1]), x: Float32Array.from([0.1, 0.2]), target: Float64Array.from([1, 0]) }]);
    expect(Number.isFinite(trainer.loss())).toBe(true);
    expect(rejection(() => trainer.predict(undefined as never), "bad-input").message).toMatch(/^predict: expected an array of samples/);
  });
});

it("createEngine of a model file's parsed JSON says what it was given (before: \"undefined: (top level): expected a model object, got nothing\")", async () => {
  const parsed = JSON.parse(TINY) as FloatModel;
  for (const engine of ["reference", "float", undefined] as const) {
    const error = await asyncRejection(() => createEngine(parsed, { engine }), "bad-args", String(engine));
    expect(error.message).toBe(
      'createEngine: expected a model or a loaded model file (format "json" or "plsm"), got an object of format "phasor-model": the parsed JSON of a model file, which parseModelText or loadModelBytes reads',
    );
  }
  expect((await createEngine(loadModelBytes(new TextEncoder().encode(TINY), "tiny.json"), { engine: "reference" })).kind).toBe("reference");
});

describe("the event parser's options and the wasm source", () => {
  const text = '{"t":1,"x":[0.5]}\n{"t":"oops","x":[0.5]}\n{"t":3,"x":[0.5]}\n';

  it("skipBad as the text \"false\" skipped the bad line (a truthy string); a misspelt option was not used", () => {
    expect(rejection(() => parseEvents(text, { inputSize: 1, skipBad: "false" as never }), "bad-args").message).toBe('skipBad must be true or false, got "false"');
    expect(rejection(() => parseEvents(text, { inputSize: 1, skipbad: true } as never), "bad-args").message).toMatch(/^EventParser: unknown option "skipbad"; the options are inputSize, file, skipBad, checkTimeOrder, maxLineBytes$/);
    expect(rejection(() => new EventParser(null as never), "bad-args").message).toMatch(/EventParser: expected options as an object/);
    expect(parseEvents(text, { inputSize: 1, skipBad: true }).skipped).toBe(1);
  });

  it("setWasmSource of something that is no function: before, accepted, and the next createEngine failed with a TypeError", () => {
    expect(rejection(() => setWasmSource("/static/wasm/" as never), "bad-args").message).toMatch(/^setWasmSource: expected a function \(build\) => Promise<WebAssembly\.Module>, such as wasmFromUrl\(\.\.\.\), got string$/);
  });
});

it("TrainingRun.create of a checkpoint with settings that define another run: before, the run went on under them (another task of the same shape, another rate)", async () => {
  const tiny = { hidden: 4, epochs: 1, perEpoch: 16, validation: 8, batchSize: 16, seed: 2 };
  const first = await TrainingRun.create(defaultSettings("freq1-async", tiny));
  await first.run();
  const checkpoint = first.checkpoint();
  await first.close();
  const refusal = async (settings: TrainSettings) => (await asyncRejection(() => TrainingRun.create(settings, checkpoint), "bad-args")).message;
  expect(await refusal(defaultSettings("freq1-async", { ...tiny, lr: 0.5 }))).toMatch(/cannot change lr 0\.5 \(the checkpoint has 0\.003\)/);
  expect(await refusal(defaultSettings("freq2", tiny))).toMatch(/the checkpoint trains freq1-async, not freq2/);
  // how long it goes on may change
  const resumed = await TrainingRun.create(defaultSettings("freq1-async", { ...tiny, epochs: 2 }), checkpoint);
  expect(resumed.epoch).toBe(1);
  await resumed.close();
});

it("encodePlsm of a model that is not one: before, a NaN or a short U was written into a file no reader accepts, and a hidden size of 100000 was a RangeError", () => {
  const nan = tiny();
  nan.layers[0].W[0] = Number.NaN;
  expect(rejection(() => encodePlsm(nan), "bad-model").message).toBe("model: layers[0].W[0][0]: expected a finite number, got NaN");
  const short = tiny();
  short.layers[0].U = short.layers[0].U.subarray(2);
  expect(rejection(() => encodePlsm(short), "bad-model").message).toBe("model: layers[0].U: expected 36 numbers, got 34");
  const huge = tiny();
  huge.layers[0].hiddenSize = 100000;
  expect(rejection(() => encodePlsm(huge), "bad-model").message).toMatch(/^model: layers\[0\]\.hiddenSize: expected a whole number from 1 to 65536/);
  // a float image holds f32
  expect(Array.from(decodePlsm(encodePlsm(tiny()), "tiny.plsm").model.layers[0].U)).toEqual(Array.from(Float32Array.from(tiny().layers[0].U)));
});

it("createEngine of a loaded model file made by hand without its parts: before, a TypeError (no plsm) or messages that began \"undefined:\" (no source)", async () => {
  const model = tiny();
  expect((await asyncRejection(() => createEngine({ format: "plsm", model, source: "m.plsm" } as never), "bad-args")).message).toBe("m.plsm: a loaded .plsm needs its image (plsm, as decodePlsm gives it)");
  expect((await asyncRejection(() => createEngine({ format: "json", model } as never, { engine: "float" }), "bad-args")).message).toBe(
    "createEngine: a loaded model file needs its source (the file's name), got undefined",
  );
  expect((await createEngine({ format: "json", model, source: "tiny.json" }, { engine: "float" })).kind).toBe("float");
});
