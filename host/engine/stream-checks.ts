/**
 * What every engine's streams check in what a caller hands them, written once so that the reference and the wasm
 * engines refuse the same events with the same PhasorError (message and `refusal`): the types of t and x, the
 * length of x, finite values within the 32-bit float range the wasm engines take, the stream options and the
 * snapshot bytes. The time checks that need a stream's state (time going backwards, the clock's range) are each
 * engine's own; their messages are worded here.
 */
import type { TimePolicy } from "./engine.js";
import { PhasorError, badInput, givenText, knownOptions, quote } from "../errors.js";

/** The largest finite 32-bit float: the wasm engines hold inputs as f32, so every engine refuses anything beyond. */
export const F32_MAX = 3.4028234663852886e38;

/** How a value that is not what was expected reads in a message. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string") return `a string (${quote(value, 40)})`;
  if (typeof value === "bigint") return `a bigint (${value}n)`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  // a typed array of another kind (a Float32Array y) is named as such, not as "an object"
  if (ArrayBuffer.isView(value)) return givenText(value);
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** How t reads where a message names the event: the number itself, or what stood there instead. */
function timeText(t: unknown): string {
  return typeof t === "number" ? `${t}` : describe(t);
}

export function eventWhere(t: unknown): string {
  return `event at t=${timeText(t)}`;
}

export function batchWhere(e: number, t: number): string {
  return `batch event ${e} at t=${t}`;
}

/** What is wrong with one value of an event (t, or x[k]), or null: a number, finite, and within f32 for x. */
function valueProblem(where: string, name: string, v: unknown, isInput: boolean): PhasorError | null {
  if (typeof v !== "number") return badInput(where, `${name} is ${describe(v)}, expected a number`, "notNumber");
  if (!Number.isFinite(v)) return badInput(where, name === "t" ? "t is not a finite number" : `${name} is ${v}, expected a finite number`, "nonFinite");
  if (isInput && Math.abs(v) > F32_MAX) {
    return badInput(where, `${name} is ${v}, not a finite 32-bit float (beyond +-3.4e38), as the engines take it`, "nonFinite");
  }
  return null;
}

function isArrayLike(x: unknown): x is ArrayLike<unknown> {
  if (typeof x !== "object" || x === null) return false;
  const length = (x as { length?: unknown }).length;
  return typeof length === "number" && Number.isInteger(length) && length >= 0;
}

/**
 * The error push(t, x) must throw before it looks at the stream's state, or null: t a finite number, x an
 * array-like of exactly inputSize finite numbers within the f32 range.
 */
export function eventProblem(t: unknown, x: unknown, inputSize: number): PhasorError | null {
  const where = eventWhere(t);
  const timeError = valueProblem(where, "t", t, false);
  if (timeError) return timeError;
  if (!isArrayLike(x)) return badInput(where, `x is ${describe(x)}, expected an array of ${inputSize} numbers`, "notNumber");
  if (x.length !== inputSize) return badInput(where, `x has ${x.length} numbers, expected ${inputSize} (inputSize)`, "wrongLength");
  for (let k = 0; k < inputSize; k++) {
    const error = valueProblem(where, `x[${k}]`, x[k], true);
    if (error) return error;
  }
  return null;
}

/** The sizes pushBatch checks its arrays against. */
export interface BatchShape {
  inputSize: number;
  outputSize: number;
  hiddenSize: number;
}

/**
 * What is wrong with pushBatch's arrays themselves, or null: t a Float64Array, x a Float32Array or Float64Array
 * of t.length * inputSize numbers, y and h absent or Float64Arrays of exactly every event's outputs, sharing no memory with
 * each other or with t and x. Typed arrays hold numbers only, so what is left to check is each event's values
 * (batchEventProblem) and times.
 */
export function batchProblem(t: unknown, x: unknown, y: unknown, h: unknown, shape: BatchShape): PhasorError | null {
  if (!(t instanceof Float64Array)) return badInput("batch", `t is ${describe(t)}, expected a Float64Array`, "notNumber");
  if (!(x instanceof Float32Array || x instanceof Float64Array)) {
    return badInput("batch", `x is ${describe(x)}, expected a Float32Array or a Float64Array`, "notNumber");
  }
  const n = t.length;
  const I = shape.inputSize;
  if (x.length !== n * I) return badInput("batch", `x has ${x.length} numbers, expected ${n} events x ${I} (inputSize) = ${n * I}`, "wrongLength");
  for (const [name, out, per, what] of [["y", y, shape.outputSize, "outputs"], ["h", h, shape.hiddenSize, "(hiddenSize)"]] as const) {
    if (out === undefined) continue;
    if (!(out instanceof Float64Array)) return new PhasorError("bad-args", `batch: ${name} is ${describe(out)}, expected a Float64Array or nothing`);
    if (out.length < n * per) return badInput("batch", `${name} has room for ${out.length} numbers, needs ${n} events x ${per} ${what} = ${n * per}`);
    // more is as telling: a caller that lays y out for another outputSize reads every event's outputs at the wrong place
    if (out.length > n * per) {
      return badInput("batch", `${name} has ${out.length} numbers, ${n} events x ${per} ${what} fill ${n * per} (a longer buffer goes in as ${name}.subarray(0, ${n * per}))`);
    }
  }
  // what is written must not overlap what is read or written besides: the wasm engines copy t and x in first and
  // the outputs out last (h over y), the reference writes them event by event, so each would give its own answer
  const written = (out: unknown, per: number) => (out === undefined ? undefined : (out as Float64Array).subarray(0, n * per));
  const arrays: [string, ArrayBufferView | undefined][] = [["t", t], ["x", x], ["y", written(y, shape.outputSize)], ["h", written(h, shape.hiddenSize)]];
  for (let a = 2; a < arrays.length; a++) {
    for (let b = 0; b < a; b++) {
      const [outName, out] = arrays[a];
      const [otherName, other] = arrays[b];
      if (out !== undefined && other !== undefined && overlapping(out, other)) {
        return new PhasorError("bad-args", `batch: ${outName} shares memory with ${otherName}: the outputs need arrays of their own`);
      }
    }
  }
  return null;
}

/** Whether two views have a byte of one buffer in common. */
function overlapping(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.byteLength > 0 && b.byteLength > 0 && a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** What is wrong with the values of event e of a batch (its t, then its inputs), or null. */
export function batchEventProblem(e: number, t: Float64Array, x: Float32Array | Float64Array, inputSize: number): PhasorError | null {
  const where = batchWhere(e, t[e]);
  const timeError = valueProblem(where, "t", t[e], false);
  if (timeError) return timeError;
  for (let k = 0; k < inputSize; k++) {
    const error = valueProblem(where, `x[${k}]`, x[e * inputSize + k], true);
    if (error) return error;
  }
  return null;
}

/** plstm.md section 4: an event earlier than the one before it, under the time policy "reject". */
export function timeBackwardsError(where: string, previous: number): PhasorError {
  return badInput(
    where,
    `earlier than the previous event at t=${previous}: time must not go backwards within a stream ` +
      `(timePolicy "clamp" would run it at the previous t)`,
    "timeBackwards",
  );
}

/** An event further from the stream's first event than the engine's clock counts (2^62 ticks or wake keys). */
export function timeRangeError(where: string, origin: number): PhasorError {
  return badInput(
    where,
    `more than 2^62 ticks after the stream's first event (t=${origin}), beyond what the engine's clock counts; start a new stream`,
    "timeRange",
  );
}

/** The time policy of StreamOptions, checked: "reject" (the default) or "clamp". */
export function timePolicyOf(options: unknown): TimePolicy {
  if (options === undefined) return "reject";
  if (typeof options !== "object" || options === null) throw new PhasorError("bad-args", `stream options: expected an object, got ${describe(options)}`);
  knownOptions("stream options", options, ["timePolicy"]);
  return checkTimePolicy((options as { timePolicy?: unknown }).timePolicy ?? "reject");
}

/** A time policy given on its own (a sensor stream's): "reject" or "clamp", nothing else taken for either. */
export function checkTimePolicy(policy: unknown): TimePolicy {
  if (policy !== "reject" && policy !== "clamp") {
    throw new PhasorError("bad-args", `timePolicy must be "reject" or "clamp", got ${typeof policy === "string" ? quote(policy) : describe(policy)}`);
  }
  return policy;
}

/** restore()'s argument, checked to be bytes. */
export function snapshotBytes(snapshot: unknown): Uint8Array {
  if (!(snapshot instanceof Uint8Array)) throw badInput("snapshot", `expected a Uint8Array, got ${describe(snapshot)}`);
  return snapshot;
}

/** hidden()'s and cell()'s layer, checked alike in every engine: a whole number naming one of the model's `layers`. */
export function layerIndex(layer: unknown, layers: number): number {
  if (typeof layer !== "number" || !Number.isInteger(layer) || layer < 0 || layer >= layers) {
    throw new PhasorError("bad-args", `layer ${givenText(layer)} does not exist: the model has ${layers === 1 ? "layer 0" : `layers 0..${layers - 1}`}`);
  }
  return layer;
}
