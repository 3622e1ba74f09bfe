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
 * The wasm module reports nonFinite, timeBackwards and timeRange as codes (assembly/contract/calls.ts, REASON_*,
 * which host/engine/wasm.ts maps to these names); the host finds the others itself (host/engine/stream-checks.ts).
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

/**
 * A value a caller gave, as a refusal shows it: text quoted, so that "5" does not read as the number 5; a bigint as
 * 5n; an object by its kind, not as "[object Object]".
 */
export function givenText(x: unknown): string {
  if (typeof x === "string") return quote(x);
  if (typeof x === "bigint") return `${x}n`;
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (typeof x === "object" && x !== null) {
    if (!ArrayBuffer.isView(x)) return "an object";
    const kind = x.constructor.name;
    return `${/^[AEIOU]/.test(kind) ? "an" : "a"} ${kind}`;
  }
  return String(x);
}

/**
 * The name a reader puts in front of its messages (a file's, "model"), checked to be text: a call that left it out
 * would have every refusal begin "undefined:", and quantize would write it into the file's metadata as it came.
 */
export function sourceName(call: string, source: unknown): string {
  if (typeof source !== "string") throw new PhasorError("bad-args", `${call}: source (the name its messages give the model, such as the file's) must be a string, got ${givenText(source)}`);
  return source;
}

/** x when it is a whole number in lo..hi; otherwise a "bad-args" error that names the setting `what`. */
export function wholeNumber(what: string, x: unknown, lo: number, hi: number): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < lo || x > hi) {
    throw new PhasorError("bad-args", `${what} must be a whole number in ${lo}..${hi}, got ${givenText(x)}`);
  }
  return x;
}

/**
 * Refuses a key of an options object that is not one of `known`: a misspelt option (`timepolicy`, `learningRate`)
 * would otherwise be dropped without a word and the default run in its place. Keys whose value is undefined count
 * as not given, as everywhere else in the API.
 */
export function knownOptions(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key) && (options as Record<string, unknown>)[key] !== undefined) {
      throw new PhasorError("bad-args", `${what}: unknown option ${quote(key)}; the options are ${known.join(", ")}`);
    }
  }
}

/**
 * The numbers a setting accepts: [min, max], either end open, whole numbers only, or 0 (off) besides the range.
 * One form, so that every setting's range reads the same in a refusal, in --help and in the code that checks it.
 */
export interface Range {
  min: number;
  max: number;
  minOpen?: boolean;
  maxOpen?: boolean;
  whole?: boolean;
  /** 0 is accepted too, meaning off */
  orZero?: boolean;
}

export function inRange(x: unknown, r: Range): x is number {
  if (typeof x !== "number" || !Number.isFinite(x)) return false;
  if (r.orZero && x === 0) return true;
  if (r.whole && !Number.isInteger(x)) return false;
  return (r.minOpen ? x > r.min : x >= r.min) && (r.maxOpen ? x < r.max : x <= r.max);
}

/** "a whole number in [1, 4096]", "in (0, 1]", "0 (off) or in [1, inf)" */
export function rangeText(r: Range): string {
  const end = (x: number) => (x === Infinity ? "inf" : x === -Infinity ? "-inf" : String(x));
  const interval = `${r.minOpen ? "(" : "["}${end(r.min)}, ${end(r.max)}${r.maxOpen || r.max === Infinity ? ")" : "]"}`;
  return `${r.orZero ? "0 (off) or " : ""}${r.whole ? "a whole number " : ""}in ${interval}`;
}

/** x when it is in the range; otherwise a "bad-args" error naming `what`, its range and the value given. */
export function checkRange(what: string, x: unknown, r: Range): number {
  if (!inRange(x, r)) throw new PhasorError("bad-args", `${what} must be ${rangeText(r)}, got ${typeof x === "string" ? quote(x) : String(x)}`);
  return x;
}

/**
 * Control characters (C0, DEL, C1), line and paragraph separators, bidirectional-text controls and lone
 * surrogates: what a message must not copy from its input, since a terminal acts on them (moves the cursor,
 * recolours, clears, rings) or shows the text around them reordered (issue 12, item 4).
 */
const UNPRINTABLE =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const SHORT_ESCAPES: Record<string, string> = { "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r" };

/**
 * Text quoted from an input (a file name, a line, a value), made safe to print in a message: each unprintable
 * character becomes the escape JSON.stringify would write for it (\n, \u001b, \ud800, ...). Backslashes are
 * left alone, so escaping a message twice changes nothing.
 */
export function escapeControls(text: string): string {
  UNPRINTABLE.lastIndex = 0;
  if (!UNPRINTABLE.test(text)) return text;
  return text.replace(UNPRINTABLE, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * A name or text from an input, quoted for a message: JSON-escaped, and escapeControls' characters too (DEL, C1,
 * separators, bidi controls, which JSON leaves as they are); at most `max` characters, then "...".
 */
export function quote(text: string, max = 64): string {
  return escapeControls(JSON.stringify(text.length > max ? `${text.slice(0, max)}...` : text));
}
