/** The library's entry: load models, create engines, stream events (browser and node alike). */
export * from "./engine.js";
export * from "./errors.js";
export * from "./model.js";
export * from "./events.js";
export { createEngine, defaultEngine, loadModelBytes, type EngineOptions, type LoadedModel } from "./create.js";
export { quantize, type QuantizeResult } from "./quantize.js";
export { encodePlsm, decodePlsm } from "./plsm.js";
export { ReferenceEngine } from "./reference.js";
export { FloatReadout } from "./readout-learning.js";
export { setWasmSource, simdSupported, wasmFromUrl, type WasmSource } from "./wasm-source.js";
export { ExactPhase, timeGate } from "./phase.js";
export { randomModel, type RandomModelOptions } from "./init.js";
export * from "./tasks.js";
export { Rng, MAX_SEED } from "./rng.js";
