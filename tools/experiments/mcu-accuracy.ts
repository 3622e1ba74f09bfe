// A quantized model's accuracy on the microcontroller build itself: the module a device flashes (build/
// phasor-mcu.wasm, or build/phasor-mcu-int8.wasm for int8 weights, docs/embedding.md) driven as a C host drives it,
// with the image written at modelBuffer(), init, then per event x at inputBuffer(), push(t) and output(). Prints one
// JSON line: init's status and the arena it used, the accuracy on the labelled sequences, and whether every y the
// module gave equals the library's fixed engine (scalar build) bit for bit.
//   npx tsx tools/experiments/mcu-accuracy.ts --model m.plsm --events test.ndjson [--mcu build/phasor-mcu-int8.wasm]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import "../../host/node.js";
import { buildDirectory } from "../../host/node.js";
import { createEngine, loadModelBytes } from "../../host/engine/create.js";
import { argmax } from "../../host/engine/evaluate.js";
import { mcuBuildFor, type McuExports } from "../../host/engine/mcu.js";
import { readSequences } from "../cli/sequences.js";

const { values } = parseArgs({ options: { model: { type: "string" }, events: { type: "string" }, mcu: { type: "string" } } });
if (!values.model || !values.events) throw new Error("--model M.plsm and --events E.ndjson are required");
const image = new Uint8Array(readFileSync(values.model));
const modulePath = values.mcu ?? join(buildDirectory(), mcuBuildFor(image));
const { instance } = await WebAssembly.instantiate(readFileSync(modulePath), {});
const mcu = instance.exports as unknown as McuExports;
new Uint8Array(mcu.memory.buffer, mcu.modelBuffer(), image.length).set(image);
const status = mcu.init(image.length);
const summary = { model: values.model, mcu: modulePath, moduleBytes: readFileSync(modulePath).length, imageBytes: image.length, init: status, arenaUsed: mcu.arenaUsed(), arenaNeeded: mcu.arenaNeeded(), arenaBytes: mcu.arenaBytes() };
if (status !== 0) {
  console.log(JSON.stringify(summary));
  process.exit(1);
}

const loaded = loadModelBytes(image, values.model);
const { inputSize, readout } = loaded.model;
const O = readout.outputSize;
const library = (await createEngine(loaded, { engine: "fixed", simd: "off" })).createStream();
const { sequences } = await readSequences(values.events, process.stdin, inputSize, { "skip-bad": false, "max-line-bytes": 1 << 20 });
let correct = 0;
let events = 0;
let sameBits = true;
for (const s of sequences) {
  mcu.reset();
  library.reset();
  let y = new Float64Array(O);
  for (let e = 0; e < s.t.length; e++) {
    const x = s.x.subarray(e * inputSize, (e + 1) * inputSize);
    new Float32Array(mcu.memory.buffer, mcu.inputBuffer(), inputSize).set(x);
    if (mcu.push(s.t[e]) !== 0) throw new Error(`the module refused event ${e} of sequence ${String(s.seq)}`);
    y = new Float64Array(mcu.memory.buffer, mcu.output(), O).slice();
    library.push(s.t[e], x);
    const expected = library.output();
    for (let o = 0; o < O; o++) if (!Object.is(y[o], expected[o])) sameBits = false;
    events++;
  }
  if (argmax(y) === s.label) correct++;
}
console.log(JSON.stringify({ ...summary, sequences: sequences.length, events, accuracy: correct / sequences.length, sameBitsAsLibrary: sameBits }));
