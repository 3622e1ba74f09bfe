// The learning microcontroller module, build/phasor-mcu-learn.wasm: the inference module's exports
// (assembly/mcu.ts, docs/embedding.md) and the readout's fine-tuning (assembly/mcu-learning.ts,
// docs/on-device-learning.md). A module of its own, so that the inference one keeps its size.

export * from "./mcu";
export {
  learn, readoutBuffer, readoutLoad, readoutReset, readoutSave, readoutSize, targetBuffer,
} from "./mcu-learning";
