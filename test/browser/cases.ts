/**
 * The cross-runtime cases (issue 5, "one model, one event stream, every runtime, the same bits"): how a case is
 * run and recorded, and how it travels. Node makes the models and events and runs them (node-runs.ts, vitest's
 * global setup); the .plsm images and the events go to Chromium as bytes, where the browser suite runs them
 * again. Both sides pass in the library they loaded, the compiled dist/host/ as it ships, so only the runtime
 * differs. Browser-safe: no node import.
 *
 * Why the inputs travel rather than being drawn again from the same seeds in the browser: V8's Math.sin, exp and
 * log changed between node 20 and current Chromium (about 3 to 10 % of results differ in the last bit), so the
 * host's task generators, random models and calibration are not bit-reproducible across JS engines. The wasm
 * engines are, and that is what these cases hold them to.
 */
import type * as Phasor from "../../dist/host/index.js";
import type { Stream } from "../../dist/host/index.js";

export type Library = typeof Phasor;

export interface CaseEvents {
  t: Float64Array;
  /** event-major, inputSize numbers per event */
  x: Float32Array;
}

/** A case's model files: the fixed image (quantized) and the float image (encoded) of one float model. */
export interface CaseImages {
  fixed: Uint8Array;
  float: Uint8Array;
}

/** A case as it travels to the browser: every array as hex of its bytes. */
export interface CaseBits {
  name: string;
  fixedImage: string;
  floatImage: string;
  t: string;
  x: string;
}

export function caseBits(name: string, images: CaseImages, events: CaseEvents): CaseBits {
  return { name, fixedImage: toHex(images.fixed), floatImage: toHex(images.float), t: toHex(events.t), x: toHex(events.x) };
}

export function caseFromBits(bits: CaseBits): { images: CaseImages; events: CaseEvents } {
  return {
    images: { fixed: fromHex(bits.fixedImage), float: fromHex(bits.floatImage) },
    events: { t: new Float64Array(fromHex(bits.t).buffer), x: new Float32Array(fromHex(bits.x).buffer) },
  };
}

export type EngineChoice = { engine: "fixed" | "float"; simd: "on" | "off" };

export const ENGINE_CHOICES: EngineChoice[] = [
  { engine: "fixed", simd: "on" },
  { engine: "fixed", simd: "off" },
  { engine: "float", simd: "on" },
  { engine: "float", simd: "off" },
];

export function choiceName(choice: EngineChoice): string {
  return `${choice.engine} ${choice.simd === "on" ? "simd" : "scalar"}`;
}

/** Everything one run shows, as hex of the raw bytes, so that -0, NaN payloads and the last bit all count. */
export interface RunBits {
  /** after every event pushed alone: y, then h and c of every layer */
  perEvent: string;
  /** the same events in one pushBatch on a fresh stream: y and the last layer's h after every event */
  batch: string;
  /** the stream's state bytes at the end */
  snapshot: string;
  stats: string;
}

export async function runCase(lib: Library, images: CaseImages, events: CaseEvents, choice: EngineChoice): Promise<RunBits> {
  const loaded = lib.loadModelBytes(images[choice.engine], `${choice.engine}.plsm`);
  const engine = await lib.createEngine(loaded, choice);
  if (engine.simd !== (choice.simd === "on")) throw new Error(`asked for simd ${choice.simd}, the engine runs ${engine.simd ? "SIMD" : "scalar"}`);
  const layers = engine.model.layers.map((layer) => layer.hiddenSize);
  const stream = engine.createStream();
  const perEvent = tracePerEvent(stream, layers, events);
  const snapshot = toHex(stream.snapshot());
  const stats = JSON.stringify(stream.stats());
  const n = events.t.length;
  const batchStream = engine.createStream();
  const y = new Float64Array(n * batchStream.outputSize);
  const h = new Float64Array(n * batchStream.hiddenSize);
  batchStream.pushBatch(events.t, events.x, y, h);
  engine.dispose();
  return { perEvent, batch: toHex(y) + toHex(h), snapshot, stats };
}

function tracePerEvent(stream: Stream, layers: number[], events: CaseEvents): string {
  const I = stream.inputSize;
  const parts: string[] = [];
  for (let e = 0; e < events.t.length; e++) {
    stream.push(events.t[e], events.x.subarray(e * I, (e + 1) * I));
    parts.push(toHex(stream.output()));
    layers.forEach((_, l) => parts.push(toHex(stream.hidden(l)), toHex(stream.cell(l))));
  }
  return parts.join("");
}

export function toHex(view: ArrayBufferView): string {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

export function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** Where two hex strings first differ, in bytes (-1 when equal). */
export function firstDifferentByte(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i >> 1;
  return a.length === b.length ? -1 : n >> 1;
}
