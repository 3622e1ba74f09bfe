/**
 * One entry point for every engine: the CLI, the tests and the browser load models and create engines here
 * and never construct them directly.
 */
import type { Engine, EngineKind, SimdChoice } from "./engine.js";
import { PhasorError, givenText, knownOptions, quote } from "../errors.js";
import { checkModel, parseModelText, type FloatModel } from "../model/model.js";
import { KIND_FIXED, PLSM_MAGIC, decodePlsm, encodePlsm, modelFileBytes, type PlsmFile } from "../model/plsm.js";
import { ReferenceEngine } from "./reference.js";
import { WasmEngine } from "./wasm.js";
import { useSimd, type Build } from "./wasm-source.js";

export interface EngineOptions {
  /** default: "fixed" for a quantized model, "float" for a float model (formats.md) */
  engine?: EngineKind;
  /** default "auto": SIMD where this runtime supports it; "on" fails where it does not */
  simd?: SimdChoice;
}

const ENGINE_OPTIONS: readonly (keyof EngineOptions)[] = ["engine", "simd"];

/** A model as read from a file: a float model (JSON), or a .plsm image and the float model it stands for. */
export type LoadedModel = { format: "json"; model: FloatModel; source: string } | { format: "plsm"; model: FloatModel; plsm: PlsmFile; source: string };

/** Reads a model file's bytes: a .plsm image when they start with its magic, the JSON model otherwise. */
export function loadModelBytes(bytes: Uint8Array, source: string): LoadedModel {
  modelFileBytes(bytes, source);
  if (bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === PLSM_MAGIC) {
    const plsm = decodePlsm(bytes, source);
    return { format: "plsm", model: plsm.model, plsm, source };
  }
  return { format: "json", model: parseModelText(new TextDecoder().decode(bytes), source), source };
}

/**
 * A model built in code, or one read from a file. A FloatModel has no `format`; the parsed JSON of a model file has
 * "phasor-model", and is neither (its matrices are rows of numbers): it is named, not read as a missing model.
 */
function loadedOf(model: LoadedModel | FloatModel): LoadedModel {
  const format = (model as { format?: unknown }).format;
  if (format === undefined) return { format: "json", model: model as FloatModel, source: "model" };
  if (format === "json" || format === "plsm") {
    const loaded = model as LoadedModel;
    // what loadModelBytes gives; one made by hand is held to the same shape, so that no path reads a missing part
    if (typeof loaded.source !== "string") throw new PhasorError("bad-args", `createEngine: a loaded model file needs its source (the file's name), got ${givenText(loaded.source)}`);
    if (loaded.format === "plsm" && !(typeof loaded.plsm === "object" && loaded.plsm !== null && loaded.plsm.bytes instanceof Uint8Array)) {
      throw new PhasorError("bad-args", `${loaded.source}: a loaded .plsm needs its image (plsm, as decodePlsm gives it)`);
    }
    // a wasm engine runs the image and reports `model`, the reference runs `model`: one model, or each answers for another
    if (loaded.format === "plsm" && loaded.model !== loaded.plsm.model) {
      throw new PhasorError("bad-args", `${loaded.source}: a loaded .plsm's model must be its image's own (plsm.model, as loadModelBytes gives it), not another`);
    }
    return loaded;
  }
  const hint = format === "phasor-model" ? ": the parsed JSON of a model file, which parseModelText or loadModelBytes reads" : "";
  throw new PhasorError("bad-args", `createEngine: expected a model or a loaded model file (format "json" or "plsm"), got an object of format ${typeof format === "string" ? quote(format) : String(format)}${hint}`);
}

export function defaultEngine(model: LoadedModel): EngineKind {
  return model.format === "plsm" && model.plsm.kind === KIND_FIXED ? "fixed" : "float";
}

/**
 * An engine for a model read from a file (loadModelBytes) or built in code. Every engine holds its model to the
 * JSON reader's rules first (checkModel: the same named-field errors), so no path runs an unchecked model.
 */
export async function createEngine(model: LoadedModel | FloatModel, options: EngineOptions = {}): Promise<Engine> {
  if (typeof model !== "object" || model === null) throw new PhasorError("bad-args", `createEngine: expected a model, got ${model === null ? "null" : typeof model}`);
  if (typeof options !== "object" || options === null) throw new PhasorError("bad-args", `createEngine: expected options as an object, got ${options === null ? "null" : typeof options}`);
  knownOptions("createEngine", options, ENGINE_OPTIONS);
  const loaded = loadedOf(model);
  const kind = options.engine ?? defaultEngine(loaded);
  const simd = options.simd ?? "auto";
  if (simd !== "auto" && simd !== "on" && simd !== "off") throw new PhasorError("bad-args", `simd must be "auto", "on" or "off", got ${typeof simd === "string" ? quote(simd) : String(simd)}`);
  const build: Build = useSimd(simd, "--simd") ? "simd" : "scalar";
  switch (kind) {
    case "reference":
      return new ReferenceEngine(loaded.model);
    case "float": {
      if (loaded.format === "plsm" && loaded.plsm.kind !== KIND_FIXED) return WasmEngine.create("float", loaded.plsm.bytes, loaded.model, build, loaded.source);
      checkModel(loaded.model, loaded.source);
      return WasmEngine.create("float", encodePlsm(loaded.model), loaded.model, build, loaded.source);
    }
    case "fixed":
      if (loaded.format !== "plsm") {
        throw new PhasorError("bad-args", `${loaded.source}: the fixed engine runs a quantized model (.plsm); make one with \`phasor quantize\``);
      }
      if (loaded.plsm.kind !== KIND_FIXED) {
        throw new PhasorError("bad-args", `${loaded.source}: a float model (a .plsm of kind ${loaded.plsm.kind}, not quantized); the fixed engine runs a quantized one: make one with \`phasor quantize\``);
      }
      return WasmEngine.create("fixed", loaded.plsm.bytes, loaded.model, build, loaded.source);
    default:
      throw new PhasorError("bad-args", `unknown engine "${kind as string}": expected reference, float or fixed`);
  }
}
