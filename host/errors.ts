/**
 * Every error the library raises on purpose is a PhasorError: `code` tells the CLI which exit status it
 * maps to (formats.md: 2 for bad arguments or bad input files, 1 for a runtime failure) and the message says
 * what was wrong, where, and why.
 */
export type ErrorCode =
  | "bad-model" // a model file or object that does not meet formats.md
  | "bad-input" // an event or argument that the engine refuses (wrong length, non-finite, time going backwards)
  | "bad-args" // a command line or API option that makes no sense
  | "runtime"; // anything else: the engine could not do what was asked

/**
 * Why an engine refused an event, for callers that count refusals (the gateway) rather than read messages:
 * - wrongLength: x does not have inputSize numbers;
 * - nonFinite: t, or an input as the engine holds it (a 32-bit float in the wasm engines), is not finite;
 * - timeBackwards: t is earlier than the stream's previous event, with time policy "reject";
 * - timeRange: the stream would run longer since its first event than the engine's clock can count;
 * - notNumber: t, x or an input is not a number at all (a string, a bigint, null, ...): API callers only, a file
 *   or a message has its numbers checked by its reader.
 * The wasm module reports nonFinite, timeBackwards and timeRange as codes 1..3, in this order (assembly/errors.ts,
 * REASON_*); the host finds the others itself (host/stream-checks.ts).
 */
export const EVENT_REFUSALS = ["wrongLength", "nonFinite", "timeBackwards", "timeRange", "notNumber"] as const;
export type EventRefusal = (typeof EVENT_REFUSALS)[number];

export class PhasorError extends Error {
  readonly code: ErrorCode;
  /** set on the "bad-input" errors of an engine that refused an event */
  readonly refusal?: EventRefusal;
  constructor(code: ErrorCode, message: string, refusal?: EventRefusal) {
    super(message);
    this.name = "PhasorError";
    this.code = code;
    if (refusal !== undefined) this.refusal = refusal;
  }
}

export function badModel(where: string, why: string): PhasorError {
  return new PhasorError("bad-model", `${where}: ${why}`);
}

export function badInput(where: string, why: string, refusal?: EventRefusal): PhasorError {
  return new PhasorError("bad-input", `${where}: ${why}`, refusal);
}
