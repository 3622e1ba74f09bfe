/**
 * A model file as the CLI opens it (formats.md): `.json` is a float model, `.plsm` a quantized one. The bytes decide
 * what the file is (host/engine/create.ts sniffs the .plsm magic); the extension only has to agree with them, so that a
 * file named for one format but holding the other fails here with a clear message instead of as unreadable JSON or a
 * bad magic number further on.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { loadModelBytes, type EngineOptions, type LoadedModel } from "../../host/engine/create.js";
import type { EngineKind, SimdChoice } from "../../host/engine/engine.js";
import { PhasorError, badModel } from "../../host/errors.js";
import { PLSM_MAGIC } from "../../host/model/plsm.js";
import { ioReason } from "../../host/files.js";
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

export async function loadModelFile(path: string): Promise<LoadedModel> {
  const extension = extname(path).toLowerCase();
  if (extension !== ".json" && extension !== ".plsm") {
    throw badModel(path, `unknown model file type "${extension}": expected .json (float model) or .plsm (quantized model)`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw badModel(path, `cannot read the model file: ${ioReason(err)}`);
  }
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
