/**
 * A model file as the CLI opens it (formats.md): `.json` is a float model, `.plsm` a quantized one. The bytes decide
 * what the file is (host/engine/create.ts sniffs the .plsm magic); the extension only has to agree with them, so that a
 * file named for one format but holding the other fails here with a clear message instead of as unreadable JSON or a
 * bad magic number further on.
 */
import { extname } from "node:path";
import { loadModelBytes, type EngineOptions, type LoadedModel } from "../../host/engine/create.js";
import type { EngineKind, SimdChoice } from "../../host/engine/engine.js";
import { PhasorError, badModel } from "../../host/errors.js";
import { MAX_IMAGE_BYTES, PLSM_MAGIC } from "../../host/model/plsm.js";
import { JSON_FILE_LIMIT, readWholeFile, type WholeFileKind } from "../../host/files.js";
import type { FlagSpec } from "./command.js";

export type { LoadedModel };

/** The flags of every command that runs the model it opens: which engine, and which wasm build. */
export const ENGINE_FLAGS = {
  engine: { kind: "enum", values: ["reference", "float", "fixed"], help: "engine (default fixed for a .plsm model, float for a JSON model)" },
  simd: { kind: "enum", values: ["auto", "on", "off"], default: "auto", help: "wasm build to run" },
} as const satisfies Record<string, FlagSpec>;

/** What ENGINE_FLAGS ask of createEngine; a build asked of the reference engine, which has none, is refused rather
 * than ignored. */
export function engineOptions(flags: { engine: EngineKind | undefined; simd: SimdChoice }): EngineOptions {
  if (flags.engine === "reference" && flags.simd === "on") {
    throw new PhasorError("bad-args", "--simd on: the reference engine is float64 JavaScript, not a wasm build (--simd picks the float and fixed engines' build)");
  }
  return { engine: flags.engine, simd: flags.simd };
}

/** The model files by extension, each read whole and refused unread beyond what any reader could take of it. */
const MODEL_FILES: Record<string, WholeFileKind> = {
  ".plsm": { what: "the model file", maxBytes: MAX_IMAGE_BYTES, why: "the largest .plsm image a wasm engine holds", code: "bad-model" },
  ".json": { what: "the model file", ...JSON_FILE_LIMIT, code: "bad-model" },
};

/** A model file's bytes, for a caller that needs them besides the model (the gateway's fingerprint). */
export function readModelFile(path: string): Uint8Array {
  const extension = extname(path).toLowerCase();
  if (!Object.hasOwn(MODEL_FILES, extension)) {
    throw badModel(path, `unknown model file type "${extension}": expected .json (float model) or .plsm (quantized model)`);
  }
  return readWholeFile(path, MODEL_FILES[extension]);
}

/** The model of a file, from `bytes` when the caller has read them already (readModelFile). */
export async function loadModelFile(path: string, bytes = readModelFile(path)): Promise<LoadedModel> {
  const extension = extname(path).toLowerCase();
  const plsm = startsWithMagic(bytes);
  if (extension === ".plsm" && !plsm) {
    throw badModel(path, "not a .plsm file: it does not start with the PLSM magic (a float model must be named .json)");
  }
  if (extension === ".json" && plsm) {
    throw badModel(path, "holds a quantized .plsm model, not a JSON float model: name it .plsm");
  }
  return loadModelBytes(bytes, path);
}

function startsWithMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === PLSM_MAGIC;
}
