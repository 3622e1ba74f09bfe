/**
 * What a `phasor` command is (its flags and what it does) and the small flag parser they share:
 * `--name value`, `--name=value` and `--flag`, every mistake a "bad-args" PhasorError (exit status 2) that names
 * the flag and what it accepts.
 */
import { PhasorError } from "../../host/errors.js";

export type FlagSpec =
  | { kind: "string"; help: string; /** placeholder in the usage line */ value?: string; required?: boolean }
  | { kind: "enum"; help: string; values: readonly string[]; default?: string }
  | { kind: "number"; help: string; value?: string; integer?: boolean; min?: number; max?: number; default?: number }
  | { kind: "boolean"; help: string }
  /** a flag that may be given again and again, each value kept in order */
  | { kind: "list"; help: string; value?: string };

export type FlagSpecs = Record<string, FlagSpec>;

type FlagValue<S extends FlagSpec> = S extends { kind: "boolean" }
  ? boolean
  : S extends { kind: "list" }
    ? string[]
    : S extends { kind: "enum"; values: readonly (infer V)[] }
    ? S extends { default: string }
      ? V
      : V | undefined
    : S extends { kind: "number" }
      ? S extends { default: number }
        ? number
        : number | undefined
      : S extends { required: true }
        ? string
        : string | undefined;

/** the parsed flags of a command, typed from its specs: `--skip-bad` is `flags["skip-bad"]: boolean` */
export type Flags<F extends FlagSpecs> = { [K in keyof F]: FlagValue<F[K]> };

/** where a command reads and writes, so that it never reaches for process.* itself */
export interface CommandIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface Command<F extends FlagSpecs = FlagSpecs> {
  /** the usage line after `phasor <name> ` */
  usage: string;
  /** what the command does and prints, for --help */
  description: string;
  flags: F;
  /** more of --help, after the flags */
  appendix?: string;
  run(flags: Flags<F>, io: CommandIO): Promise<void>;
}

/** Identity, there to infer the flag types of a command from its literal specs. */
export function defineCommand<const F extends FlagSpecs>(command: Command<F>): Command<F> {
  return command;
}

export interface ParsedArgs<F extends FlagSpecs> {
  /** --help was given: the flags were not checked */
  help: boolean;
  flags: Flags<F>;
}

export function parseFlags<F extends FlagSpecs>(args: readonly string[], specs: F): ParsedArgs<F> {
  if (args.includes("--help") || args.includes("-h")) return { help: true, flags: {} as Flags<F> };
  const values: Record<string, string | number | boolean | string[] | undefined> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) throw badArgs(`unexpected argument "${arg}" (flags start with --)`);
    const equals = arg.indexOf("=");
    const name = arg.slice(2, equals < 0 ? undefined : equals);
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (spec === undefined) {
      throw badArgs(`unknown flag --${name} (accepted: ${Object.keys(specs).map((n) => `--${n}`).join(", ")})`);
    }
    if (name in values && spec.kind !== "list") throw badArgs(`--${name} is given twice`);
    if (spec.kind === "boolean") {
      if (equals >= 0) throw badArgs(`--${name} takes no value`);
      values[name] = true;
      continue;
    }
    let text: string;
    if (equals >= 0) {
      text = arg.slice(equals + 1);
    } else {
      // "--events -" reads stdin; a following "--x" is the next flag, not a value
      if (i + 1 >= args.length || args[i + 1].startsWith("--")) throw badArgs(`--${name} needs a value (${describe(spec)})`);
      text = args[++i];
    }
    if (spec.kind === "list") {
      if (text === "") throw badArgs(`--${name} needs a non-empty value (${describe(spec)})`);
      values[name] = [...((values[name] as string[] | undefined) ?? []), text];
    } else {
      values[name] = parseValue(name, spec, text);
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (name in values) continue;
    if (spec.kind === "boolean") values[name] = false;
    else if (spec.kind === "list") values[name] = [];
    else if (spec.kind === "string" && spec.required) throw badArgs(`missing --${name} ${spec.value ?? "<value>"} (${spec.help})`);
    else if (spec.kind !== "string") values[name] = spec.default;
  }
  return { help: false, flags: values as Flags<F> };
}

function parseValue(name: string, spec: Exclude<FlagSpec, { kind: "boolean" | "list" }>, text: string): string | number {
  switch (spec.kind) {
    case "string":
      if (text === "") throw badArgs(`--${name} needs a non-empty value (${describe(spec)})`);
      return text;
    case "enum":
      if (!spec.values.includes(text)) throw badArgs(`--${name} must be one of ${spec.values.join(", ")} (got "${text}")`);
      return text;
    case "number": {
      const value = text.trim() === "" ? NaN : Number(text);
      const outside = (spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max);
      if (!Number.isFinite(value) || (spec.integer && !Number.isInteger(value)) || outside) {
        throw badArgs(`--${name} must be ${describe(spec)} (got "${text}")`);
      }
      return value;
    }
  }
}

function describe(spec: FlagSpec): string {
  switch (spec.kind) {
    case "string":
    case "list":
      return spec.value ?? "a value";
    case "enum":
      return `one of ${spec.values.join(", ")}`;
    case "number": {
      const range = spec.max === undefined ? (spec.min !== undefined ? ` >= ${spec.min}` : "") : ` in [${spec.min ?? "-inf"}, ${spec.max}]`;
      return `${spec.integer ? "an integer" : "a number"}${range}`;
    }
    case "boolean":
      return "no value";
  }
}

/** `--help` text of a command: usage line, description, one line per flag */
export function commandHelp(name: string, command: Command): string {
  const rows = Object.entries(command.flags).map(([flag, spec]) => {
    let left = `--${flag}`;
    if (spec.kind === "string" || spec.kind === "number" || spec.kind === "list") left += ` ${spec.value ?? "<value>"}`;
    if (spec.kind === "enum") left += ` ${spec.values.join("|")}`;
    // a help text that already explains its default keeps its own words
    const defaults = (spec.kind === "enum" || spec.kind === "number") && spec.default !== undefined && !spec.help.includes("(default") ? ` (default ${spec.default})` : "";
    return [left, spec.help + defaults] as const;
  });
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  const lines = rows.map(([left, help]) => `  ${left.padEnd(width)}  ${help}`);
  return `usage: phasor ${name} ${command.usage}\n\n${command.description}\n\nflags:\n${lines.join("\n")}\n${command.appendix ? `\n${command.appendix}` : ""}`;
}

function badArgs(message: string): PhasorError {
  return new PhasorError("bad-args", message);
}
