/**
 * Shared fixtures of the engine suites: quantizing a float model the way `phasor quantize` does and loading the
 * result through the public loader, recording every event's outputs and hidden states, comparing runs, and
 * catching the PhasorError an action must throw. The suites that use these import "../host/node.js" first.
 */
import { expect } from "vitest";
import { createEngine, loadModelBytes } from "../../host/engine/create.js";
import type { Engine, SimdChoice, Stream } from "../../host/engine/engine.js";
import { PhasorError, type ErrorCode } from "../../host/errors.js";
import type { FloatModel } from "../../host/model/model.js";
import { quantize, type QuantizeResult } from "../../host/model/quantize.js";
import { Rng, randomStream, type RandomStream, type RandomStreamOptions } from "./random.js";

export type WasmKind = "float" | "fixed";

/** `count` calibration streams of `n` events, half of them starting at epoch milliseconds. */
export function calibrationStreams(seed: number, inputSize: number, count = 3, n = 400, options: Partial<RandomStreamOptions> = {}): RandomStream[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, k) => randomStream(rng, { n, inputSize, start: k % 2 ? "epoch" : 0, ...options }));
}

/** The model quantized on the calibration streams, loaded from its .plsm bytes as a file would be. */
export async function quantizedEngine(model: FloatModel, calibration: RandomStream[], simd: SimdChoice = "auto"): Promise<{ engine: Engine; quantized: QuantizeResult }> {
  const quantized = quantize(model, calibration, "test-model");
  const engine = await createEngine(loadModelBytes(quantized.bytes, "test-model.plsm"), { engine: "fixed", simd });
  return { engine, quantized };
}

/** A wasm engine of either kind for the model (the fixed one quantized on calibration streams of the same distribution). */
export async function wasmEngine(kind: WasmKind, model: FloatModel, simd: SimdChoice = "auto", calibrationSeed = 9001): Promise<Engine> {
  if (kind === "float") return createEngine(model, { engine: "float", simd });
  return (await quantizedEngine(model, calibrationStreams(calibrationSeed, model.inputSize), simd)).engine;
}

/** What a stream showed after every event: y, and h and c of every layer, each event-major. */
export interface Trace {
  events: number;
  y: Float64Array;
  h: Float64Array[];
  c: Float64Array[];
}

/** Pushes the events one at a time and records y and every layer's h and c after each. */
export function trace(stream: Stream, layers: number[], t: ArrayLike<number>, x: Float32Array | Float64Array): Trace {
  const n = t.length;
  const I = stream.inputSize;
  const O = stream.outputSize;
  const out: Trace = { events: n, y: new Float64Array(n * O), h: layers.map((H) => new Float64Array(n * H)), c: layers.map((H) => new Float64Array(n * H)) };
  for (let e = 0; e < n; e++) {
    stream.push(t[e], x.subarray(e * I, (e + 1) * I));
    out.y.set(stream.output(), e * O);
    layers.forEach((H, l) => {
      out.h[l].set(stream.hidden(l), e * H);
      out.c[l].set(stream.cell(l), e * H);
    });
  }
  return out;
}

/** Largest |a - b| and where it is (index), for error messages. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) {
      max = d; // NaN also lands here and then fails every comparison below
      at = i;
    }
  }
  return { max, at };
}

export function maxAbs(a: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]));
  return max;
}

/** Runs `action`, which must throw a PhasorError of the given code; returns it. `what` names the check. */
export function rejection(action: () => unknown, code: ErrorCode, what = "the action"): PhasorError {
  let error: unknown;
  try {
    action();
  } catch (e) {
    error = e;
  }
  expect(error, `${what}: expected a PhasorError, ${error === undefined ? "nothing was thrown" : `got ${String(error)}`}`).toBeInstanceOf(PhasorError);
  expect((error as PhasorError).code, `${what}: ${(error as PhasorError).message}`).toBe(code);
  return error as PhasorError;
}

/** The same for an async action. */
export async function asyncRejection(action: () => Promise<unknown>, code: ErrorCode, what = "the action"): Promise<PhasorError> {
  let error: unknown;
  try {
    await action();
  } catch (e) {
    error = e;
  }
  expect(error, `${what}: expected a PhasorError, ${error === undefined ? "it succeeded" : `got ${String(error)}`}`).toBeInstanceOf(PhasorError);
  expect((error as PhasorError).code, `${what}: ${(error as PhasorError).message}`).toBe(code);
  return error as PhasorError;
}

/** Everything a rejected call must leave alone: the state bytes and the counters. */
export function stateOf(stream: Stream): { bytes: Uint8Array; stats: object } {
  return { bytes: stream.snapshot(), stats: stream.stats() };
}

/** Index of the first byte where a and b differ (-1 when equal, the shorter length when one is a prefix). */
export function firstDifference(a: ArrayBufferView, b: ArrayBufferView): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return i;
  return x.length === y.length ? -1 : n;
}

export function expectSameBytes(a: ArrayBufferView, b: ArrayBufferView, what: string): void {
  const at = firstDifference(a, b);
  expect(at, `${what}: first differing byte ${at} (of ${a.byteLength} and ${b.byteLength})`).toBe(-1);
}

/** Everything a stream shows, compared byte for byte between two engines (the SIMD and scalar builds). */
export function expectSameState(a: Stream, b: Stream, layers: number, what: string): void {
  expectSameBytes(a.output(), b.output(), `${what}: y`);
  for (let l = 0; l < layers; l++) {
    expectSameBytes(a.hidden(l), b.hidden(l), `${what}: layer ${l} h`);
    expectSameBytes(a.cell(l), b.cell(l), `${what}: layer ${l} c`);
  }
  expectSameBytes(a.snapshot(), b.snapshot(), `${what}: snapshot`);
  expect(a.stats(), `${what}: stats`).toEqual(b.stats());
}
