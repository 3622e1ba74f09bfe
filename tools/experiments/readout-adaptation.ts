// The demonstration of docs/on-device-learning.md, section 6: a freq1-async model, quantized, deployed on "devices"
// whose data differ from the training data; each device fine-tunes its readout on N labelled sequences with the
// capped integer step, and the table says what that fixed and what it did not.
//   npx tsx tools/experiments/readout-adaptation.ts --model out/phasor-.../model.plsm [--train 200] [--test 1000] [--eta 0.1]
//     [--c 0.9] [--seeds 1,2,3] [--bits]
// Per device: accuracy before adapting (fresh sequences, the flashed readout); online while adapting (each sequence
// predicted before its label is learned); on the N sequences again after; on fresh sequences after; the float64
// step on the same h for comparison; the adapted readout on fresh sequences of the original task (what it forgot);
// and how many steps the cap shortened. With several --seeds (each draws other training and fresh sequences) a cell
// is the mean and, in brackets, the range over the seeds. With --bits (on the first seed) the same adaptation and test runs through the library's scalar
// build, the learning microcontroller module (built with an arena that holds the model) in node, the C host on the
// wasmtime wheel's engine and tools/devices/wasmtime-mcu.py, and the table says whether every one ended with the same
// readout bytes and the same outputs on the fresh sequences.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import "../../host/node.js";
import { createEngine, loadModelBytes } from "../../host/engine/create.js";
import type { Engine, LearningRate, Stream } from "../../host/engine/engine.js";
import type { McuLearningExports } from "../../host/engine/mcu.js";
import { FloatReadout } from "../../host/engine/readout-learning.js";
import { Rng } from "../../host/rng.js";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    train: { type: "string", default: "200" },
    test: { type: "string", default: "1000" },
    eta: { type: "string", default: "0.1" },
    c: { type: "string", default: "0.9" },
    seeds: { type: "string", default: "1" },
    bits: { type: "boolean", default: false },
  },
});

/** How a device's data differ from freq1-async's (tasks.md): the band of the positive class, the sensor's gain and
 * offset, the events' rate. */
interface Device {
  name: string;
  band: [number, number];
  gain: number;
  offset: number;
  rate: number;
}

const DEVICES: Device[] = [
  { name: "as trained (none)", band: [5, 6], gain: 1, offset: 0, rate: 1 },
  { name: "sensor gain 0.5", band: [5, 6], gain: 0.5, offset: 0, rate: 1 },
  { name: "sensor offset +0.5", band: [5, 6], gain: 1, offset: 0.5, rate: 1 },
  { name: "sensor gain 0.5, offset +0.3", band: [5, 6], gain: 0.5, offset: 0.3, rate: 1 },
  { name: "target band 6.5-7.5 ms", band: [6.5, 7.5], gain: 1, offset: 0, rate: 1 },
  { name: "4x fewer events", band: [5, 6], gain: 1, offset: 0, rate: 0.25 },
];

interface Sequence {
  t: Float64Array;
  x: Float32Array;
  label: number;
}

/** freq1-async's sequence (tasks.md, "freq1") as the device sees it; positives drawn with probability 1/2 per
 * sequence, so that labels arrive mixed, as a device's would. */
function sequences(device: Device, n: number, seed: number): Sequence[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const period = rng.next() < 0.5 ? rng.uniform(device.band[0], device.band[1]) : rng.logUniform(1, 100);
    const duration = rng.uniform(15, 125);
    const start = rng.uniform(0, 125 - duration);
    const phase = rng.uniform(0, duration);
    const events = Math.max(1, Math.floor(rng.uniform(15, 125) * device.rate));
    const t = new Float64Array(events).map(() => start + rng.uniform(0, duration)).sort();
    const x = Float32Array.from(t, (time) => device.gain * Math.sin((2 * Math.PI * time) / period - phase) + device.offset);
    return { t, x, label: period >= device.band[0] && period <= device.band[1] ? 1 : 0 };
  });
}

const argmax = (y: ArrayLike<number>) => (y[1] > y[0] ? 1 : 0);

/** The last layer's h after each sequence (the readout does not change it) and the stream's outputs. */
function run(stream: Stream, s: Sequence): { y: Float64Array; h: Float64Array } {
  stream.reset();
  stream.pushBatch(s.t, s.x);
  return { y: stream.output(), h: stream.hidden() };
}

function accuracy(stream: Stream, data: Sequence[]): { accuracy: number; y: Float64Array } {
  const y = new Float64Array(data.length * 2);
  let right = 0;
  data.forEach((s, k) => {
    const out = run(stream, s).y;
    y.set(out, 2 * k);
    if (argmax(out) === s.label) right++;
  });
  return { accuracy: right / data.length, y };
}

interface Adapted {
  online: number;
  capped: number;
  readout: Uint8Array;
}

/** Predict, then learn the label: one step per sequence, as a device does. */
function adapt(stream: Stream, data: Sequence[], rate: LearningRate, float: FloatReadout): Adapted {
  let right = 0;
  let capped = 0;
  for (const s of data) {
    const { y, h } = run(stream, s);
    if (argmax(y) === s.label) right++;
    if (stream.learning!.learn(s.label, rate).capped) capped++;
    float.learn(h, s.label, rate);
  }
  return { online: right / data.length, capped, readout: stream.learning!.save() };
}

function floatAccuracy(stream: Stream, float: FloatReadout, data: Sequence[]): number {
  return data.filter((s) => argmax(float.output(run(stream, s).h)) === s.label).length / data.length;
}

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex").slice(0, 16);

/** The same adaptation and test elsewhere: readout bytes and the fresh sequences' outputs, hashed, per place. */
interface Elsewhere {
  scalar(train: Sequence[], test: Sequence[]): { readout: string; outputs: string };
  mcu(train: Sequence[], test: Sequence[]): { readout: string; outputs: string };
  files(train: Sequence[], test: Sequence[]): { c: { readout: string; outputs: string }; wasmtime: { readout: string; outputs: string } };
  /** wasm operators (wasmtime's fuel) per event and per learning step, from the last files() run */
  fuel: { fuelPerPush: number; fuelPerLearn: number } | null;
}

async function main(): Promise<void> {
  if (!values.model) throw new Error("--model M.plsm is required (a quantized freq1-async model, e.g. from npm start)");
  const image = new Uint8Array(readFileSync(values.model));
  const rate = { eta: Number(values.eta), c: Number(values.c) };
  const [nTrain, nTest] = [Number(values.train), Number(values.test)];
  const engine = await createEngine(loadModelBytes(image, values.model), { engine: "fixed", simd: "on" });
  const seeds = (values.seeds as string).split(",").map(Number);
  const elsewhere = values.bits ? await places(image, values.model, rate) : undefined;
  const rows: string[] = [];
  for (const device of DEVICES) {
    const results = seeds.map((seed, k) => {
      const row = adaptation(engine, device, seed, nTrain, nTest, rate);
      if (elsewhere && k === 0) {
        const [train, test] = [sequences(device, nTrain, 100 * seed + 1), sequences(device, nTest, 100 * seed + 2)];
        const all = [elsewhere.scalar(train, test), elsewhere.mcu(train, test), ...Object.values(elsewhere.files(train, test))];
        row.bits = all.every((p) => p.readout === row.readout && p.outputs === row.outputs) ? `same (${all.length + 1} of ${all.length + 1})` : `DIFFER: ${JSON.stringify(all)}`;
      }
      process.stdout.write(JSON.stringify({ device: device.name, seed, ...row }) + "\n");
      return row;
    });
    const cell = (key: "before" | "online" | "again" | "fresh" | "float" | "originalAfter") => spread(results.map((r) => 100 * r[key]), " %");
    const cells = [cell("before"), cell("online"), cell("again"), cell("fresh"), cell("float"), cell("originalAfter"), spread(results.map((r) => r.capped), "")];
    rows.push(`| ${device.name} | ${cells.join(" | ")} |${elsewhere ? ` ${results[0].bits} |` : ""}`);
  }
  process.stdout.write(
    `\n| device | before | online, ${nTrain} labelled | those ${nTrain} after | fresh after | float64 step, fresh after | original task after | steps capped |${elsewhere ? " same bits |" : ""}\n` +
      `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${elsewhere ? " --- |" : ""}\n${rows.join("\n")}\n`,
  );
  if (elsewhere?.fuel) {
    process.stdout.write(`\nwasm operators on wasmtime (fuel), learning module: ${elsewhere.fuel.fuelPerPush} per event (push and output), ${elsewhere.fuel.fuelPerLearn} per learning step\n`);
  }
}

/** One device, one seed: before, the adaptation on N sequences, after; the readout's and outputs' hashes. */
function adaptation(engine: Engine, device: Device, seed: number, nTrain: number, nTest: number, rate: LearningRate) {
  const train = sequences(device, nTrain, 100 * seed + 1);
  const test = sequences(device, nTest, 100 * seed + 2);
  const original = sequences(DEVICES[0], nTest, 100 * seed + 3);
  const stream = engine.createStream();
  const before = accuracy(stream, test).accuracy;
  const float = new FloatReadout(engine.model.readout);
  const adapted = adapt(stream, train, rate, float);
  const again = accuracy(stream, train).accuracy;
  const fresh = accuracy(stream, test);
  const row = {
    before,
    online: adapted.online,
    again,
    fresh: fresh.accuracy,
    float: floatAccuracy(stream, float, test),
    originalAfter: accuracy(stream, original).accuracy,
    capped: adapted.capped,
    readout: sha(adapted.readout),
    outputs: sha(new Uint8Array(fresh.y.buffer)),
    bits: "",
  };
  stream.dispose();
  return row;
}

/** The mean of the values, and their range in brackets when they differ. */
function spread(values: number[], unit: string): string {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const digits = unit === "" ? 0 : 1;
  const [low, high] = [Math.min(...values), Math.max(...values)];
  return `${mean.toFixed(digits)}${unit}${low === high ? "" : ` (${low.toFixed(digits)}-${high.toFixed(digits)})`}`;
}

/**
 * Where else the bits are checked: the library's scalar build, and the learning microcontroller module, whose
 * standard 2-page build does not hold a 110-unit model (its image alone is 113 KB): it is built again with an arena
 * of 176 KiB in 3 pages (`--use PHASOR_MCU_ARENA`, docs/embedding.md) and run in node, by the C host (built here
 * with gcc against the wasmtime wheel's engine, docs/embedding.md) and by tools/devices/wasmtime-mcu.py.
 */
async function places(image: Uint8Array, modelPath: string, rate: { eta: number; c: number }): Promise<Elsewhere> {
  const dir = mkdtempSync(join(tmpdir(), "phasor-adaptation-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const scalarEngine: Engine = await createEngine(loadModelBytes(image, modelPath), { engine: "fixed", simd: "off" });
  const { default: asc } = await import("assemblyscript/asc");
  const module = join(dir, "phasor-mcu-learn.wasm");
  const built = await asc.main([
    "assembly/mcu-learn.ts", "--config", "asconfig.mcu.json", "--target", "mcu-learn", "--outFile", module, "--initialMemory", "3",
    "--maximumMemory", "3", "--use", "abort=", "--use", "PHASOR_MCU=1", "--use", "PHASOR_LEARN=1", "--use", "PHASOR_MCU_ARENA=180224",
  ]);
  if (built.error) throw built.error;
  const wasmtime = join(execFileSync("python3", ["-c", "import wasmtime, os; print(os.path.dirname(wasmtime.__file__))"], { encoding: "utf8" }).trim(), "linux-x86_64");
  const host = join(dir, "phasor_host");
  const sources = readdirSync("host/c").filter((f) => f.endsWith(".c")).map((f) => join("host/c", f));
  execFileSync("gcc", ["-std=c11", "-O2", "-Ihost/c", ...sources, "-o", host, join(wasmtime, "_libwasmtime.so"), `-Wl,-rpath,${wasmtime}`, "-lm"]);
  const model = join(dir, "model.plsm");
  writeFileSync(model, image);
  const lastOutputs = (perEvent: number[], test: Sequence[]) => {
    const y = new Float64Array(test.length * 2);
    let at = 0;
    test.forEach((s, k) => {
      at += s.t.length;
      y.set(perEvent.slice(2 * (at - 1), 2 * at), 2 * k);
    });
    return sha(new Uint8Array(y.buffer));
  };
  const elsewhere: Elsewhere = {
    scalar(train, test) {
      const stream = scalarEngine.createStream();
      for (const s of train) {
        run(stream, s);
        stream.learning!.learn(s.label, rate);
      }
      const readout = sha(stream.learning!.save());
      const outputs = sha(new Uint8Array(accuracy(stream, test).y.buffer));
      stream.dispose();
      return { readout, outputs };
    },
    mcu(train, test) {
      const mcu = mcuInstance(readFileSync(module));
      new Uint8Array(mcu.memory.buffer, mcu.modelBuffer(), image.length).set(image);
      if (mcu.init(image.length) !== 0) throw new Error(`the learning module's init answered ${mcu.init(image.length)}`);
      const feed = (s: Sequence) => {
        mcu.reset();
        for (let e = 0; e < s.t.length; e++) {
          new Float32Array(mcu.memory.buffer, mcu.inputBuffer(), 1)[0] = s.x[e];
          if (mcu.push(s.t[e]) !== 0) throw new Error("push refused an event");
        }
        return new Float64Array(mcu.memory.buffer, mcu.output(), 2).slice();
      };
      for (const s of train) {
        feed(s);
        if (mcu.learn(s.label, rate.eta, rate.c) < 0) throw new Error("learn refused a label");
      }
      const readout = sha(new Uint8Array(mcu.memory.buffer, mcu.readoutBuffer(), mcu.readoutSave()));
      const y = new Float64Array(test.length * 2);
      test.forEach((s, k) => y.set(feed(s), 2 * k));
      return { readout, outputs: sha(new Uint8Array(y.buffer)) };
    },
    files(train, test) {
      const csv = (data: Sequence[], labelled: boolean) =>
        ["t,x0,seq,label", ...data.flatMap((s, k) => Array.from(s.t, (t, e) => `${t},${s.x[e]},${k},${labelled ? s.label : ""}`))].join("\n") + "\n";
      writeFileSync(join(dir, "train.csv"), csv(train, true));
      writeFileSync(join(dir, "test.csv"), csv(test, false));
      const learnFlags = ["--learn", String(rate.eta), "--learn-c", String(rate.c)];
      const c = spawnSync(host, ["--module", module, "--model", model, "--events", join(dir, "train.csv"), ...learnFlags, "--readout-out", join(dir, "c.readout")], { maxBuffer: 1 << 30 });
      if (c.status !== 0) throw new Error(`phasor_host: ${c.stderr} ${c.error?.message ?? ""}`);
      const cTest = spawnSync(host, ["--module", module, "--model", model, "--events", join(dir, "test.csv"), "--readout-in", join(dir, "c.readout")], { maxBuffer: 1 << 30 });
      if (cTest.status !== 0) throw new Error(`phasor_host: ${cTest.stderr}`);
      const cY = cTest.stdout.toString("utf8").trimEnd().split("\n").flatMap((line) => (JSON.parse(line) as { y: number[] }).y);
      const py = (events: string, extra: string[]) => spawnSync("python3", ["tools/devices/wasmtime-mcu.py", module, model, join(dir, events), ...extra], { encoding: "utf8", maxBuffer: 1 << 30 });
      const w = py("train.csv", [...learnFlags, "--readout-out", join(dir, "w.readout"), "--fuel"]);
      if (w.status !== 0) throw new Error(`wasmtime-mcu: ${w.stderr}`);
      elsewhere.fuel = JSON.parse(w.stderr.trim().split("\n").at(-1) as string);
      const wTest = py("test.csv", ["--readout-in", join(dir, "w.readout")]);
      if (wTest.status !== 0) throw new Error(`wasmtime-mcu: ${wTest.stderr}`);
      const wY = wTest.stdout.trimEnd().split("\n").flatMap((line) => line.split(",").map((hex) => new DataView(new BigUint64Array([BigInt(`0x${hex}`)]).buffer).getFloat64(0, true)));
      return {
        c: { readout: sha(readFileSync(join(dir, "c.readout"))), outputs: lastOutputs(cY, test) },
        wasmtime: { readout: sha(readFileSync(join(dir, "w.readout"))), outputs: lastOutputs(wY, test) },
      };
    },
    fuel: null,
  };
  return elsewhere;
}

function mcuInstance(bytes: Uint8Array<ArrayBuffer>): McuLearningExports {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as McuLearningExports;
}

// the model's path as given, then the repository's folder: the module's sources, the C host and the drivers
if (values.model) values.model = resolve(values.model);
process.chdir(join(dirname(fileURLToPath(import.meta.url)), "..", ".."));
main().catch((err: unknown) => {
  process.stderr.write(`readout-adaptation: ${(err as Error).message}\n`);
  process.exit(1);
});
