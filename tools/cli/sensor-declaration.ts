/**
 * Where a model's sensor declaration (docs/gateway.md, "Sensors") comes from, the same for every command that takes
 * one: --sensors S.json, else the model's own, the `sensors` field of a JSON model or of a .plsm's metadata
 * (docs/plsm.md), else none (the gateway then reads every input as one sensor "x"). `phasor quantize` carries it
 * into the .plsm it writes, `phasor gateway` encodes readings by it.
 */
import { badModel } from "../../host/errors.js";
import { JSON_FILE_LIMIT, readWholeFile } from "../../host/files.js";
import { repeatedInFile } from "../../host/json-text.js";
import { defaultSensorLayout, parseSensorLayout, type SensorLayout } from "../../host/gateway/sensors.js";
import type { LoadedModel } from "./model-file.js";

export interface SensorDeclaration {
  /** as given: a declaration object or the bare array of sensors, with any fields of its own */
  json: unknown;
  /** where it was found, which parseSensorLayout's messages start with */
  source: string;
}

/** --sensors (its file read whole), else the model's own declaration; undefined when there is neither. */
export function sensorDeclaration(sensorsPath: string | undefined, loaded: LoadedModel, modelBytes: Uint8Array): SensorDeclaration | undefined {
  if (sensorsPath !== undefined) {
    const text = new TextDecoder().decode(readWholeFile(sensorsPath, { what: "the sensor declaration", ...JSON_FILE_LIMIT, code: "bad-model" }));
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw badModel(sensorsPath, `not valid JSON (${(err as Error).message})`);
    }
    // JSON.parse kept the last of a name given twice (a sensor's scale, its slots): the other would be lost unsaid
    const repeated = repeatedInFile(text, json);
    if (repeated !== undefined) throw badModel(sensorsPath, repeated);
    return { json, source: sensorsPath };
  }
  if (loaded.format === "json") {
    // the model reader keeps no field of the gateway's: read from the file's own text, as loaded already
    const sensors = (JSON.parse(new TextDecoder().decode(modelBytes)) as { sensors?: unknown }).sensors;
    return sensors === undefined ? undefined : { json: sensors, source: `${loaded.source}: sensors` };
  }
  const sensors = loaded.plsm.meta.sensors;
  if (sensors === undefined) return undefined;
  // the reader refused a "sensors" given twice; inside it the names are the gateway's alone to check (phasor-wasi,
  // which reads the same files, has no use for them), as in a --sensors file
  const metaText = loaded.plsm.metaText ?? JSON.stringify(loaded.plsm.meta);
  const repeated = repeatedInFile(metaText, loaded.plsm.meta, (_name, path) => path[0] === "sensors");
  if (repeated !== undefined) throw badModel(loaded.source, `metadata: ${repeated}`);
  return { json: sensors, source: `${loaded.source}: metadata sensors` };
}

/**
 * The layout of a declaration for a model of `inputSize` inputs, else the default one sensor "x". A declaration the
 * gateway cannot use is refused wherever it came from (a .plsm's included), never replaced by the default.
 */
export function sensorLayoutOf(declaration: SensorDeclaration | undefined, inputSize: number): SensorLayout {
  return declaration === undefined ? defaultSensorLayout(inputSize) : parseSensorLayout(declaration.json, inputSize, declaration.source);
}
