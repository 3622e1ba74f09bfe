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

export class PhasorError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "PhasorError";
    this.code = code;
  }
}

export function badModel(where: string, why: string): PhasorError {
  return new PhasorError("bad-model", `${where}: ${why}`);
}

export function badInput(where: string, why: string): PhasorError {
  return new PhasorError("bad-input", `${where}: ${why}`);
}
