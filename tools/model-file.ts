/**
 * A model file as the CLI opens it, chosen by extension: `.json` is a float model, `.plsm` a quantized one
 * (formats.md). Every command loads models here, so the defaults that follow from the file type live in one place.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import type { EngineKind } from "../host/engine.js";
import { badModel, PhasorError } from "../host/errors.js";
import { parseModelText, type FloatModel } from "../host/model.js";
import { ioReason } from "./io.js";

export interface LoadedModel {
  path: string;
  format: "json";
  model: FloatModel;
  /** formats.md: fixed for a .plsm model, float for a JSON model */
  defaultEngine: EngineKind;
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
  if (extension === ".plsm") return loadPlsm(bytes, path);
  const model = parseModelText(new TextDecoder().decode(bytes), path);
  return { path, format: "json", model, defaultEngine: "float" };
}

/** Stands in for host/plsm.ts's loadPlsm until the quantized format lands. */
function loadPlsm(_bytes: Uint8Array, source: string): never {
  throw new PhasorError("bad-model", `${source}: .plsm models are not supported yet`);
}
