/** The library's entry: load models, create engines, stream events (browser and node alike). */
export * from "./engine/engine.js";
export * from "./errors.js";
export * from "./model/model.js";
export * from "./engine/events.js";
export { createEngine, defaultEngine, loadModelBytes, type EngineOptions, type LoadedModel } from "./engine/create.js";
export { quantize, type QuantizeResult, type UFormats, type WeightWidth } from "./model/quantize.js";
export { quantizeChecked, U_FORMAT_CHOICES, type CheckedQuantization, type UFormatChoice } from "./model/quantize-checked.js";
export { encodePlsm, decodePlsm } from "./model/plsm.js";
export { ReferenceEngine } from "./engine/reference.js";
export { FloatReadout } from "./engine/readout-learning.js";
export { setWasmSource, simdSupported, wasmFromUrl, type WasmSource } from "./engine/wasm-source.js";
export { ExactPhase, timeGate } from "./engine/phase.js";
export { randomModel, type RandomModelOptions } from "./model/init.js";
export * from "./training/tasks.js";
export { Rng, MAX_SEED } from "./rng.js";
// What a publisher or an in-process user of the gateway's conventions needs (docs/gateway.md): the topics and shard
// of a device, and a device's sensor readings into a stream. All browser-safe.
export { deadLetterTopic, healthTopic, inputTopic, outputTopic, shardOf } from "./gateway/topics.js";
export {
  SensorStream, defaultSensorLayout, parseSensorLayout, sensorLayoutToJson, type ReadingOutcome, type SensorLayout, type SensorSpec,
} from "./gateway/sensors.js";
