/**
 * Run as a child process by test/engines-use-all-their-memory.test.ts, which gives node the V8 flags a case needs.
 * Prints one JSON line of what happened.
 *
 * "full": the engine's memory capped (--wasm-max-mem-pages) and filled with streams (the last bytes with streams
 * of a one-unit model); then every call that passes
 * more bytes through the module than its I/O area holds (hidden of 700 units, restore, the learning readout), and
 * the same calls once eight streams are freed.
 * "beyond 2 GiB": streams of 274 KiB until the engine's memory passes 2^31 bytes; a stream below and one above
 * run the same events, and their outputs, snapshots and restores are compared.
 */
import "../../host/node.js";
import { createEngine } from "../../host/engine/create.js";
import type { Engine, Stream } from "../../host/engine/engine.js";
import type { WasmEngine } from "../../host/engine/wasm.js";
import { PhasorError } from "../../host/errors.js";
import { quantize } from "../../host/model/quantize.js";
import { Rng, randomModel, randomStream } from "./random.js";

/** What an action did: "ok", or the error's class, code and message. */
function outcome(action: () => unknown): { ok: true } | { error: string; code?: string; message: string } {
  try {
    action();
    return { ok: true };
  } catch (err) {
    return { error: (err as Error).constructor.name, code: err instanceof PhasorError ? err.code : undefined, message: (err as Error).message };
  }
}

/** Streams until the engine refuses one; the refusal too. */
function fill(engine: Engine): { streams: Stream[]; refusal: ReturnType<typeof outcome> } {
  const streams: Stream[] = [];
  const refusal = outcome(() => {
    for (;;) streams.push(engine.createStream());
  });
  return { streams, refusal };
}

/**
 * Fills the room the streams left (less than one of them, but as much as an I/O area of 700 units' hidden state or
 * not, as the blocks of the model before them happen to end) with the streams of a one-unit model in the same
 * module, through its exports: what is left then holds no call's bytes.
 */
function fillTheRest(engine: WasmEngine, tinyImage: Uint8Array): void {
  const { wasm } = engine;
  const tiny = wasm.exports.modelCreate(wasm.copyIn(tinyImage), tinyImage.length);
  for (;;) {
    try {
      wasm.exports.streamCreate(tiny);
    } catch {
      return; // the module's allocator traps when it cannot grow
    }
  }
}

async function full(): Promise<unknown> {
  const rng = new Rng(3);
  const model = randomModel(rng, { inputSize: 2, hidden: [700], peephole: false, rOn: 0.1, outputs: 2, mode: "every" });
  const calibration = randomStream(rng, { n: 50, inputSize: 2 });
  const fixed = quantize(model, [calibration], "full");
  const loaded = { format: "plsm", model: fixed.file.model, plsm: fixed.file, source: "full.plsm" } as const;
  const engine = await createEngine(loaded, { engine: "fixed" });
  // the bytes of a readout of this model, from another engine: this one's I/O area stays as small as it starts
  const readout = (await createEngine(loaded, { engine: "fixed" })).createStream().learning!.save();
  const first = engine.createStream();
  // the first event sets up the smallest I/O area; a state of 700 units needs more than it holds
  first.push(1, [0.5, -0.5]);
  const { streams, refusal } = fill(engine);
  fillTheRest(engine as WasmEngine, quantize(randomModel(rng, { inputSize: 2, hidden: [1], peephole: false, rOn: 0.1, outputs: 1, mode: "every" }), [calibration], "tiny").bytes);
  const saved = streams[0].snapshot();
  const calls = () => ({
    hidden: outcome(() => first.hidden()),
    restore: outcome(() => first.restore(saved)),
    loadReadout: outcome(() => first.learning!.load(readout)),
  });
  const before = first.snapshot();
  const whenFull = calls();
  const untouched = Buffer.from(first.snapshot()).equals(Buffer.from(before));
  const count = streams.length;
  for (const stream of streams.splice(-8)) stream.dispose();
  return { streams: count, refusal, whenFull, untouched, afterFreeing: calls() };
}

async function beyond2GiB(): Promise<unknown> {
  const model = randomModel(new Rng(1), { inputSize: 2, hidden: new Array(64).fill(128), peephole: false, rOn: 0.5, outputs: 1, mode: "every" });
  const engine = await createEngine(model, { engine: "float" });
  const low = engine.createStream();
  const count = Math.ceil(2 ** 31 / engine.memory().stateBytesPerStream) + 4;
  const streams = Array.from({ length: count }, () => engine.createStream());
  const high = streams[count - 1];
  const memoryBytes = (engine as unknown as { wasm: { exports: { memory: WebAssembly.Memory } } }).wasm.exports.memory.buffer.byteLength;
  const run = (s: Stream) =>
    outcome(() => {
      s.push(1, [0.5, -0.5]);
      s.push(2.5, [0.25, 0.75]);
    });
  const ran = { low: run(low), high: run(high) };
  const snapshots = { low: low.snapshot(), high: high.snapshot() };
  const restored = streams[count - 2];
  const restore = outcome(() => restored.restore(snapshots.high));
  return {
    memoryBytes,
    ran,
    sameOutputs: Array.from(low.output()).join() === Array.from(high.output()).join(),
    sameSnapshots: Buffer.from(snapshots.low).equals(Buffer.from(snapshots.high)),
    restore,
    restoredSame: Buffer.from(restored.snapshot()).equals(Buffer.from(snapshots.low)),
  };
}

const cases: Record<string, () => Promise<unknown>> = { full, "beyond 2 GiB": beyond2GiB };
console.log(JSON.stringify(await cases[process.argv[2]]()));
