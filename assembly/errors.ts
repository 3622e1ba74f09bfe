// The last error as ASCII text in a static buffer, so that the host and the WASI command can say what was wrong
// without the module allocating on an error path.

import { E_INPUT } from "./contract/calls";

/**
 * Whether this build words its errors. The microcontroller build (`--use PHASOR_MCU=1`, assembly/mcu.ts) returns
 * status codes only: message code stands under `if (ERROR_TEXT)` or `ERROR_TEXT ? "..." : ""`, which the
 * compiler drops whole there. A string literal compiled anywhere, even one that is never read, lands in the
 * module's data, so the guard has to be at the literal, not inside the functions below.
 */
export const ERROR_TEXT: bool = !isDefined(PHASOR_MCU);

const ERROR_CAPACITY: i32 = 240;
let errorLength: i32 = 0;

/** The buffer's address: static data reserved only in a build that words its errors (a top-level memory.data is
 * reserved in every build that imports the file). */
export function errorPtr(): usize {
  return memory.data(256);
}

export function errorLen(): i32 {
  return errorLength;
}

export function clearError(): void {
  errorLength = 0;
}

export function errText(s: string): void {
  for (let i = 0; i < s.length && errorLength < ERROR_CAPACITY; i++) {
    store<u8>(errorPtr() + <usize>(errorLength++), <u8>s.charCodeAt(i));
  }
}

export function errInt(v: i64): void {
  if (v < 0) {
    errText("-");
    v = -v;
  }
  const digits = memory.data(24);
  let n = 0;
  do {
    store<u8>(digits + <usize>(n++), <u8>(48 + <i32>(v % 10)));
    v /= 10;
  } while (v > 0 && n < 20);
  while (n > 0 && errorLength < ERROR_CAPACITY) store<u8>(errorPtr() + <usize>(errorLength++), load<u8>(digits + <usize>(--n)));
}

/** Appends a float64 in its shortest round-trip form (allocates a string: error paths only). */
export function errFloat(v: f64): void {
  errText(v.toString());
}

/** Starts a new error message; returns the status code the caller should return. */
export function fail(code: i32, s: string): i32 {
  if (ERROR_TEXT) {
    errorLength = 0;
    errText(s);
  }
  return code;
}

// Why the last event was refused (E_INPUT), as a number the host maps to a name without parsing the text.
export { REASON_NON_FINITE, REASON_TIME_BACKWARDS, REASON_TIME_RANGE } from "./contract/calls";
let refusal: i32 = 0;
let refusedIndex: i32 = -1;
let refusedTime: f64 = NaN;

export function refusalReason(): i32 {
  return refusal;
}

/** Which event of a batch was refused (-1: a single event), so the host can word the error itself. */
export function refusalIndex(): i32 {
  return refusedIndex;
}

/** The time the refusal measured against: the previous event's (REASON_TIME_BACKWARDS) or the stream's first
 * event's (REASON_TIME_RANGE); NaN otherwise. */
export function refusalTime(): f64 {
  return refusedTime;
}

/** Records why event `index` (-1 for a single event) is refused; returns E_INPUT for the caller to return. */
export function refuse(reason: i32, index: i32 = -1, time: f64 = NaN): i32 {
  refusal = reason;
  refusedIndex = index;
  refusedTime = time;
  return E_INPUT;
}

// Status codes returned by exported functions (0 = success).
export { E_CAPACITY, E_INPUT, E_MODEL, E_STATE } from "./contract/calls";
