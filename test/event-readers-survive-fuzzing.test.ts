/**
 * The event readers survive fuzzing (issue 12, item 7): the NDJSON and CSV reader of host/engine/events.ts and the
 * reader of the WASI command, on a fixed number of seeded cases per run (a case that fails names its seed and is
 * replayed by running that seed alone). A case is an event file drawn at random and written in one of the many
 * spellings the format allows, then, for most cases, damaged byte by byte. Every case must end as a clean refusal
 * (a PhasorError, exit status 2) naming file:line and a reason in one printable line, or as the same parse as an
 * oracle that was not fuzzed: for NDJSON, JSON.parse and the rules of formats.md line by line; for CSV, the
 * events the file was written from; for phasor-wasi, `phasor run`'s own code (tools/cli/commands/run.ts) in this
 * process. Never a trap, a hang (the WASI runs are in a worker the test stops after a while), a stack trace or a
 * control character in a message; and the same answer however the input is cut into chunks.
 */
import "../host/node.js";
import { rmSync, writeFileSync } from "node:fs";
import { Writable } from "node:stream";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import type { Engine } from "../host/engine/engine.js";
import { PhasorError } from "../host/errors.js";
import { saturationWarning } from "../host/engine/input-range.js";
import { BadLineError, DEFAULT_MAX_LINE_BYTES, EventParser, type StreamEvent } from "../host/engine/events.js";
import { quantize } from "../host/model/quantize.js";
import { runEvents } from "../tools/cli/commands/run.js";
import { calibrationStreams } from "./support/engines.js";
import { memberNames, namesGivenTwice } from "./support/json-members.js";
import { Rng, randomModel } from "./support/random.js";
import { scratchDirectory } from "./support/wasi.js";

const CASES = { ndjson: 600, csv: 400, wasi: 150 };
const F32_MAX = 3.4028234663852886e38;
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const encoder = new TextEncoder();

// ---- drawing event files ----

interface Truth {
  t: number;
  x: number[];
  seq: string | number | undefined;
  label: number | undefined;
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)];

const SEQ_IDS: (string | number)[] = [
  "a", "b,c", 'say "hi"', "tab\there", "\u00e9t\u00e9", "\u4e2d", "\u{1F600}", "", " spaced ", "x12", "12", "\u001b[2J", "\u202eevil",
  "back\\slash", "null", 0, 1, 7, -3, 12, 9007199254740991,
];
const SPECIAL_X = [0, 1, -1, 0.5, 0.1, 1 / 3, 1e-300, 5e-324, F32_MAX, -F32_MAX, 123456789012345680000, 2 ** -20];

function drawEvents(rng: Rng, inputSize: number, csv: boolean): Truth[] {
  const ids = SEQ_IDS.filter((id) => !csv || typeof id === "number" || !/[\r\n]/.test(id));
  const seqs: (string | number | undefined)[] = [];
  const count = rng.int(4);
  if (count === 0) seqs.push(undefined);
  while (seqs.length < count) {
    const id = pick(rng, ids);
    if (!seqs.includes(id)) seqs.push(id);
  }
  const events: Truth[] = [];
  for (const seq of seqs) {
    let t = pick(rng, [0, 3.5, -5, 1.7e12 + rng.int(1_000_000) / 4]);
    const n = 1 + rng.int(5);
    for (let e = 0; e < n; e++) {
      if (e > 0) t += pick(rng, [0, 0.25, rng.uniform(0, 10), rng.logUniform(1e-6, 1e6)]);
      const x = Array.from({ length: inputSize }, () => (rng.next() < 0.3 ? pick(rng, SPECIAL_X) : rng.uniform(-2, 2)));
      const label = rng.next() < 0.4 ? pick(rng, [0, 1, 2.5, -1]) : undefined;
      events.push({ t, x, seq, label });
    }
  }
  return events;
}

/** A number as JSON or CSV may spell it, each spelling reading back as the same double. */
function spellNumber(rng: Rng, v: number): string {
  switch (rng.int(4)) {
    case 0:
      return v.toExponential();
    case 1:
      return v.toPrecision(21);
    case 2:
      return Number.isInteger(v) && Math.abs(v) < 1e15 ? v.toFixed(2) : String(v);
    default:
      return String(v);
  }
}

/** A JSON string literal for text, some characters written as \u escapes (surrogate pairs as two). */
function spellString(rng: Rng, text: string): string {
  let literal = '"';
  for (const char of text) {
    const code = char.charCodeAt(0);
    if (code < 0x20 || char === '"' || char === "\\" || rng.next() < 0.2) {
      for (const unit of char.split("")) literal += `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`;
    } else {
      literal += char;
    }
  }
  return literal + '"';
}

function spellValue(rng: Rng, depth: number): string {
  switch (rng.int(depth > 3 ? 4 : 6)) {
    case 0:
      return spellNumber(rng, rng.uniform(-1e6, 1e6));
    case 1:
      return spellString(rng, pick(rng, ["", "x", "\u00e9\u{1F600}", "}{][,:", "\\n"]));
    case 2:
      return pick(rng, ["true", "false", "null"]);
    case 3:
      return "[]";
    case 4:
      return `[${Array.from({ length: rng.int(3) }, () => spellValue(rng, depth + 1)).join(", ")}]`;
    default:
      return `{${Array.from({ length: rng.int(3) }, (_, k) => `"k${k}": ${spellValue(rng, depth + 1)}`).join(",")}}`;
  }
}

const jsonSpace = (rng: Rng) => pick(rng, ["", "", " ", "\t", "  ", "\r"]);
const key = (rng: Rng, name: string) => (rng.next() < 0.2 ? spellString(rng, name).replace(name[0], `\\u${name.charCodeAt(0).toString(16).padStart(4, "0")}`) : `"${name}"`);

/**
 * Values that break one rule of formats.md each, by field: a line that takes one is refused (or, for the order
 * poisons, breaks the order of times or of seqs).
 */
const NDJSON_POISONS: Record<string, string[]> = {
  t: ["1e999", '"1"', "null", "[1]", "true", ""],
  x: ["[]", "3", '"x"', "null", "{}", "[1, 2, 3, 4]"],
  "x[]": ["1e999", "-1e400", "3.5e38", "-3.4028235e38", '"0"', "null", "true", "[]"],
  seq: ["1.5", "9007199254740992", "{}", "[]", "true", "-0.5"],
  label: ['"cat"', "1e999", "[]", "{}", "true"],
};

/**
 * Names of a line's own: ones that look like a field of the format's misspelt (host/misspelt.ts), which make the
 * line bad, and ones near the format's that do not.
 */
const MISSPELT_NAMES = ["Seq", "SEQ", "T", "X", "Label", "LABEL", "lable", "labels", "labl", "lbel", "laebl"];
const OWN_NAMES = ["sq", "id", "labelled", "t0", "Xs", "sensor"];

/** One NDJSON line for e; `poison` replaces one field's value ("" drops the field); `twice` gives a field twice. */
function ndjsonLine(rng: Rng, e: Truth, poison?: { field: string; value: string }, twice = false): string {
  const member = (name: string, value: string) => `${key(rng, name)}${jsonSpace(rng)}:${jsonSpace(rng)}${value}`;
  const xs = e.x.map((v) => spellNumber(rng, v));
  if (poison?.field === "x[]") xs[rng.int(xs.length)] = poison.value;
  const values: Record<string, string | undefined> = {
    t: spellNumber(rng, e.t),
    x: `[${jsonSpace(rng)}${xs.join(`,${jsonSpace(rng)}`)}${jsonSpace(rng)}]`,
    seq: e.seq === undefined ? (rng.next() < 0.2 ? "null" : undefined) : typeof e.seq === "number" ? spellNumber(rng, e.seq) : spellString(rng, e.seq),
    label: e.label === undefined ? (rng.next() < 0.2 ? "null" : undefined) : spellNumber(rng, e.label),
  };
  if (poison !== undefined && poison.field !== "x[]") values[poison.field] = poison.value === "" ? undefined : poison.value;
  const members = Object.entries(values).flatMap(([name, value]) => (value === undefined ? [] : [member(name, value)]));
  for (let k = rng.int(3); k > 0; k--) members.push(member(pick(rng, ["note", "meta", "ts", "xs"]), spellValue(rng, 0)));
  for (let k = members.length - 1; k > 0; k--) {
    const j = rng.int(k + 1);
    [members[k], members[j]] = [members[j], members[k]];
  }
  // a field of the event given twice (a poison: JSON.parse would keep the last and drop the other unsaid)
  if (twice) members.unshift(member(pick(rng, Object.keys(values).filter((name) => values[name] !== undefined)), spellValue(rng, 0)));
  const around = () => pick(rng, ["", "", " ", "\t", "\u00a0", "\u3000", "\ufeff"]);
  return `${around()}{${jsonSpace(rng)}${members.join(`,${jsonSpace(rng)}`)}${jsonSpace(rng)}}${around()}`;
}

function csvNumber(rng: Rng, v: number): string {
  const text = spellNumber(rng, v);
  const signed = v > 0 && rng.next() < 0.2 ? `+${text}` : text;
  return rng.next() < 0.1 ? `"${signed}"` : signed;
}

function csvSeq(rng: Rng, seq: string | number | undefined): string {
  if (seq === undefined) return "";
  if (typeof seq === "number") return String(seq);
  // an unquoted field is trimmed and, when it is an integer, a number: only plain words may go unquoted
  if (/^[A-Za-z][A-Za-z0-9]*$/.test(seq) && rng.next() < 0.5) return seq;
  return `"${seq.replaceAll('"', '""')}"`;
}

/** The columns of a CSV file after t, in a random order, with unknown ones among them. */
function csvColumns(rng: Rng, inputSize: number, events: Truth[]): string[] {
  const columns = Array.from({ length: inputSize }, (_, k) => `x${k}`);
  if (events.some((e) => e.seq !== undefined) || rng.next() < 0.3) columns.push("seq");
  if (events.some((e) => e.label !== undefined) || rng.next() < 0.3) columns.push("label");
  for (let k = rng.int(2); k > 0; k--) columns.push(pick(rng, ["weight", "note"]));
  for (let k = columns.length - 1; k > 0; k--) {
    const j = rng.int(k + 1);
    [columns[k], columns[j]] = [columns[j], columns[k]];
  }
  return columns;
}

/** Fields that break one rule each, by column ("row" changes the row's shape), and the reason they must give. */
const CSV_POISONS: Record<string, [string, RegExp][]> = {
  t: [["NaN", /^t is not finite/], ["inf", /^t is not finite/], ["", /^t is not a number/], ["0x10", /^t is not a number/], ["1e999", /^t is not finite/]],
  x: [["3.5e38", /^x\d+ is beyond the 32-bit float range/], ["-1e400", /^x\d+ is not finite/], ["abc", /^x\d+ is not a number/], ["", /^x\d+ is not a number/]],
  label: [["cat", /^label is not a number/], ["1e999", /^label is not finite/]],
  row: [["one more", /^bad CSV row: \d+ fields, the header has \d+/], ['"open', /^bad CSV row: unterminated quote/]],
};

function csvRow(rng: Rng, e: Truth, columns: string[], poison?: { column: string; value: string }): string {
  const fields = [csvNumber(rng, e.t)];
  for (const column of columns) {
    if (column.startsWith("x")) fields.push(csvNumber(rng, e.x[Number(column.slice(1))]));
    else if (column === "seq") fields.push(csvSeq(rng, e.seq));
    else if (column === "label") fields.push(e.label === undefined ? "" : csvNumber(rng, e.label));
    else fields.push(pick(rng, ["", "1", "n/a", '"q, "" q"']));
  }
  if (poison?.column === "t") fields[0] = poison.value;
  if (poison?.column === "x" || poison?.column === "label") {
    const at = columns.findIndex((column) => column.startsWith(poison.column === "x" ? "x" : "label"));
    fields[at + 1] = poison.value;
  }
  if (poison?.column === "row") {
    if (poison.value === '"open') fields[rng.int(fields.length)] = '"open';
    else fields.splice(rng.int(fields.length + 1), 0, "1");
  }
  return fields.map((f) => `${pick(rng, ["", "", " "])}${f}${pick(rng, ["", "", " ", "\t"])}`).join(",");
}

interface Drawn {
  bytes: Uint8Array;
  inputSize: number;
  /** the events the file was written from, with their lines (before any damage); poisoned lines left out */
  truth: (Truth & { line: number })[];
  /** the lines that took a poison, in order, and the reason they must give (CSV) */
  poisoned: { line: number; reason?: RegExp }[];
}

/**
 * `names`, a generator of its own (so that the files of the seeds drawn before the names were added stay as they
 * were), puts a name of the line's own first in some NDJSON lines: a misspelt one makes the line a poisoned one.
 */
function drawFile(rng: Rng, format: "ndjson" | "csv", inputSize: number, names: Rng): Drawn {
  const events = drawEvents(rng, inputSize, format === "csv");
  const lines: string[] = [];
  const truth: Drawn["truth"] = [];
  const poisoned: Drawn["poisoned"] = [];
  const poisonRate = rng.next() < 0.4 ? 0.25 : 0;
  const seqsSoFar: (string | number | undefined)[] = [];
  const blank = () => {
    if (rng.next() < 0.1) lines.push(pick(rng, ["", "  ", "\t", "\r"]));
  };
  let columns: string[] = [];
  if (format === "csv") {
    columns = csvColumns(rng, inputSize, events);
    blank();
    lines.push(["t", ...columns].join(pick(rng, [",", ","])));
  }
  events.forEach((e, k) => {
    blank();
    const poison = rng.next() < poisonRate;
    const name = format === "ndjson" && names.next() < 0.1 ? pick(names, [...MISSPELT_NAMES, ...OWN_NAMES]) : undefined;
    const named = (line: string) => (name === undefined ? line : line.replace("{", `{${key(names, name)}:${spellValue(names, 0)},`));
    if (!poison && MISSPELT_NAMES.includes(name!)) {
      lines.push(named(ndjsonLine(rng, e)));
      poisoned.push({ line: lines.length });
    } else if (!poison) {
      lines.push(format === "csv" ? csvRow(rng, e, columns) : named(ndjsonLine(rng, e)));
      truth.push({ ...e, line: lines.length });
    } else if (format === "csv") {
      const column = pick(rng, columns.includes("label") ? ["t", "x", "label", "row"] : ["t", "x", "row"]);
      const [value, reason] = pick(rng, CSV_POISONS[column]);
      lines.push(csvRow(rng, e, columns, { column, value }));
      poisoned.push({ line: lines.length, reason });
    } else {
      // a field's value, the order (a time before the previous event's, a seq that has ended) or a field given twice
      const order = rng.int(5);
      const previous = events[k - 1];
      if (order === 0 && previous !== undefined && previous.seq === e.seq) lines.push(ndjsonLine(rng, { ...e, t: previous.t - 1 - rng.int(5) }));
      else if (order === 1 && seqsSoFar.length > 1) lines.push(ndjsonLine(rng, { ...e, seq: seqsSoFar[0] }));
      else if (order === 2) lines.push(ndjsonLine(rng, e, undefined, true));
      else {
        const field = pick(rng, Object.keys(NDJSON_POISONS));
        lines.push(ndjsonLine(rng, e, { field, value: pick(rng, NDJSON_POISONS[field]) }));
      }
      poisoned.push({ line: lines.length });
    }
    if (!seqsSoFar.includes(e.seq)) seqsSoFar.push(e.seq);
  });
  let text = rng.next() < 0.1 ? "\ufeff" : "";
  lines.forEach((line, k) => {
    const last = k === lines.length - 1;
    text += line + (last && rng.next() < 0.3 ? "" : pick(rng, ["\n", "\n", "\r\n"]));
  });
  return { bytes: encoder.encode(text), inputSize, truth, poisoned };
}

const DAMAGE_BYTES = [0, 7, 9, 10, 13, 27, 32, 34, 44, 45, 46, 48, 49, 57, 58, 91, 92, 93, 101, 110, 116, 120, 123, 125, 127, 0x80, 0x9b, 0xbf, 0xc0, 0xe2, 0xed, 0xef, 0xf0, 0xff];

/** The file damaged a few times: bytes changed, inserted, deleted, repeated, cut, or a line made long (by a
 * run of digits about the size of a small line limit). */
function damage(rng: Rng, bytes: Uint8Array, maxLineBytes: number): Uint8Array {
  let b = Array.from(bytes);
  // arrays joined with concat: a spread of a long line into splice's arguments overflows the stack
  const insert = (at: number, part: number[]) => (b = b.slice(0, at).concat(part, b.slice(at)));
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const at = rng.int(b.length + 1);
    switch (rng.int(6)) {
      case 0:
        if (b.length > 0) b[Math.min(at, b.length - 1)] = pick(rng, DAMAGE_BYTES);
        break;
      case 1:
        insert(at, Array.from({ length: 1 + rng.int(4) }, () => pick(rng, DAMAGE_BYTES)));
        break;
      case 2:
        b.splice(at, 1 + rng.int(10));
        break;
      case 3: {
        const from = rng.int(b.length + 1);
        insert(at, b.slice(from, from + 1 + rng.int(40)));
        break;
      }
      case 4:
        b = b.slice(0, at);
        break;
      default:
        // about the line limit when it is small; the default limit's own cases are test/cli-under-stress's
        insert(at, new Array<number>(Math.min(maxLineBytes, 1000) - 20 + rng.int(60)).fill(48));
    }
  }
  return Uint8Array.from(b);
}

/** One case: the file, damaged or not, and the line limit to read it with. */
function drawCase(seed: number, format: "ndjson" | "csv", inputSize = 1 + (seed % 3)) {
  const rng = new Rng(seed);
  const drawn = drawFile(rng, format, inputSize, new Rng(seed + 0x5eed));
  const maxLineBytes = rng.next() < 0.3 ? 80 + rng.int(300) : DEFAULT_MAX_LINE_BYTES;
  const damaged = rng.next() < 0.6;
  return { ...drawn, maxLineBytes, damaged, bytes: damaged ? damage(rng, drawn.bytes, maxLineBytes) : drawn.bytes, rng };
}

// ---- reading, and what a reading must be ----

interface Reading {
  events: StreamEvent[];
  error?: PhasorError;
  skipped: number;
  reasons: readonly string[];
}

/** The reader on `pieces` (bytes, or text when given strings), every non-PhasorError thrown as it is. */
function read(pieces: (Uint8Array | string)[], options: { inputSize: number; maxLineBytes: number; skipBad: boolean; file: string }): Reading {
  const parser = new EventParser(options);
  const events: StreamEvent[] = [];
  try {
    for (const piece of pieces) events.push(...(typeof piece === "string" ? parser.push(piece) : parser.pushBytes(piece)));
    events.push(...parser.end());
  } catch (err) {
    if (!(err instanceof BadLineError)) throw err;
    events.push(...err.before);
    return { events, error: err, skipped: parser.skipped, reasons: parser.skippedReasons };
  }
  return { events, skipped: parser.skipped, reasons: parser.skippedReasons };
}

/** Random cuts of a byte array (some inside UTF-8 sequences and CRLFs). */
function cut(rng: Rng, bytes: Uint8Array): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + rng.int(rng.next() < 0.5 ? 8 : 200);
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

const plain = (events: StreamEvent[]) => events.map((e) => ({ t: e.t, x: Array.from(e.x), seq: e.seq, label: e.label, line: e.line }));

/** What a refusal must look like: file:line: reason, one printable line, the line within the file. */
function expectCleanRefusal(message: string, file: string, lines: number): number {
  const match = new RegExp(`^${file.replace(".", "\\.")}:(\\d+): \\S`).exec(message);
  expect(match, message).not.toBeNull();
  expect(message, message).not.toMatch(UNPRINTABLE);
  const line = Number(match![1]);
  expect(line).toBeGreaterThanOrEqual(1);
  expect(line).toBeLessThanOrEqual(lines);
  return line;
}

/** The lines of a file as the reader sees them: raw bytes between newlines, and their decoded text. */
function linesOf(bytes: Uint8Array): { size: number; text: string }[] {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  const lines: { size: number; text: string }[] = [];
  let start = 0;
  for (;;) {
    const newline = bytes.indexOf(10, start);
    const end = newline < 0 ? bytes.length : newline;
    if (newline >= 0 || end > start) {
      const raw = bytes.subarray(start, end);
      lines.push({ size: raw.length - (raw[raw.length - 1] === 13 ? 1 : 0), text: decoder.decode(raw) });
    }
    if (newline < 0) return lines;
    start = newline + 1;
  }
}

/**
 * The NDJSON oracle, formats.md line by line: JSON.parse, then the fields' rules, then the order of seqs and
 * times; with skipBad it goes on past a bad line, otherwise it stops there. undefined when the file turned into
 * CSV (its first line now starts with "t,").
 */
function ndjsonOracle(bytes: Uint8Array, inputSize: number, maxLineBytes: number, skipBad: boolean) {
  const events: ReturnType<typeof plain> = [];
  let skipped = 0;
  let started = false;
  let seq: unknown;
  let lastT = -Infinity;
  const finished = new Set<unknown>();
  const lines = linesOf(bytes);
  for (let k = 0; k < lines.length; k++) {
    let text = lines[k].text.replace(/\r$/, "");
    if (k === 0) text = text.replace(/^\ufeff/, "");
    text = text.trim();
    if (text === "") continue;
    if (!started && skipped === 0 && text.startsWith("t,") && lines[k].size <= maxLineBytes) return undefined;
    const event = lines[k].size > maxLineBytes ? undefined : ndjsonEvent(text, inputSize);
    const ordered = event !== undefined && (started && event.seq === seq ? event.t >= lastT : !finished.has(event.seq));
    if (!ordered) {
      if (!skipBad) return { events, refusedAt: k + 1, skipped };
      skipped++;
      continue;
    }
    if (started && event.seq !== seq) finished.add(seq);
    started = true;
    seq = event.seq;
    lastT = event.t;
    events.push({ ...event, line: k + 1 });
  }
  return { events, refusedAt: undefined, skipped };
}

/** Every name one edit from "label" (a printable ASCII character inserted or changed, one removed, two neighbours
 * swapped): the rule of host/misspelt.ts written out, for the oracle. */
const NEAR_LABEL = (() => {
  const near = new Set<string>();
  const label = "label";
  for (let i = 0; i <= label.length; i++) {
    for (let c = 32; c < 127; c++) {
      near.add(label.slice(0, i) + String.fromCharCode(c) + label.slice(i));
      if (i < label.length) near.add(label.slice(0, i) + String.fromCharCode(c) + label.slice(i + 1));
    }
    if (i < label.length) near.add(label.slice(0, i) + label.slice(i + 1));
    if (i + 1 < label.length) near.add(label.slice(0, i) + label[i + 1] + label[i] + label.slice(i + 2));
  }
  return near;
})();

/** Whether a field's name looks like one of formats.md's misspelt: up to case (A-Z), or one edit from label. */
function looksMisspelt(name: string): boolean {
  if (/[^\x20-\x7e]/.test(name) || ["t", "x", "seq", "label"].includes(name)) return false;
  const lower = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return ["t", "x", "seq"].includes(lower) || NEAR_LABEL.has(lower);
}

function ndjsonEvent(text: string, inputSize: number) {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  if (Object.keys(value).some(looksMisspelt)) return undefined;
  if (namesGivenTwice(memberNames(text), (m) => m.path.length === 0 && ["t", "x", "seq", "label"].includes(m.name)).length > 0) return undefined;
  const { t, x, seq, label } = value as Record<string, unknown>;
  const number = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  if (!number(t) || !Array.isArray(x) || x.length !== inputSize || !x.every((v) => number(v) && Math.abs(v) <= F32_MAX)) return undefined;
  if (!(seq == null || typeof seq === "string" || Number.isSafeInteger(seq))) return undefined;
  if (!(label == null || number(label))) return undefined;
  return { t, x: x as number[], seq: (seq ?? undefined) as string | number | undefined, label: (label ?? undefined) as number | undefined };
}

/** Checks one case of the JS reader: the same reading whole, in byte pieces and as text; clean refusals. */
function checkReader(seed: number, format: "ndjson" | "csv"): void {
  const c = drawCase(seed, format);
  const file = `fuzz.${format}`;
  const lines = linesOf(c.bytes).length;
  const valid = (() => {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(c.bytes);
      return true;
    } catch {
      return false;
    }
  })();
  for (const skipBad of [false, true]) {
    const options = { inputSize: c.inputSize, maxLineBytes: c.maxLineBytes, skipBad, file };
    let whole: Reading;
    try {
      whole = read([c.bytes], options);
    } catch (err) {
      // a CSV header is refused even with skipBad; anything that is no PhasorError is a bug
      if (!(err instanceof PhasorError)) throw err;
      expectCleanRefusal(err.message, file, lines);
      continue;
    }
    const again = read(cut(c.rng, c.bytes), options);
    expect(plain(again.events)).toEqual(plain(whole.events));
    expect(again.error?.message).toBe(whole.error?.message);
    expect(again.skipped).toBe(whole.skipped);
    if (valid) {
      // the text of the file, a byte order mark kept (it counts towards line 1's bytes), cut at random places
      const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(c.bytes);
      const cuts: string[] = [];
      for (let at = 0; at < text.length; ) {
        const size = 1 + c.rng.int(c.rng.next() < 0.5 ? 8 : 200);
        cuts.push(text.slice(at, at + size));
        at += size;
      }
      const fromText = read(cuts, options);
      expect(plain(fromText.events)).toEqual(plain(whole.events));
      expect(fromText.error?.message).toBe(whole.error?.message);
    }
    if (whole.error) {
      expect(whole.error.code).toBe("bad-input");
      expectCleanRefusal(whole.error.message, file, lines);
    }
    for (const reason of whole.reasons) expectCleanRefusal(reason, file, lines);
    for (const e of whole.events) {
      expect(e.x.length).toBe(c.inputSize);
      expect(Number.isFinite(e.t)).toBe(true);
      for (const v of e.x) expect(Math.abs(v)).toBeLessThanOrEqual(F32_MAX);
    }

    const oracle = format === "ndjson" ? ndjsonOracle(c.bytes, c.inputSize, c.maxLineBytes, skipBad) : undefined;
    if (oracle !== undefined) {
      expect(plain(whole.events)).toEqual(oracle.events);
      expect(whole.error === undefined ? undefined : expectCleanRefusal(whole.error.message, file, lines)).toBe(oracle.refusedAt);
      expect(whole.skipped).toBe(oracle.skipped);
    }
    if (!c.damaged && linesOf(c.bytes).every((line) => line.size <= c.maxLineBytes) && (format === "csv" || c.poisoned.length === 0)) {
      // bytes not damaged, lines within the limit: the events the file was written from, and its poisoned lines
      // refused (skipped, with skipBad) with the reason each poison gives; NDJSON's order poisons can also refuse
      // the good lines after them, which the oracle above has checked
      const first = c.poisoned[0];
      if (skipBad) {
        expect(whole.skipped).toBe(c.poisoned.length);
        expect(plain(whole.events)).toEqual(c.truth);
      } else if (first === undefined) {
        expect(whole.error?.message).toBeUndefined();
        expect(plain(whole.events)).toEqual(c.truth);
      } else {
        expect(whole.error?.message).toMatch(new RegExp(`^${file.replace(".", "\\.")}:${first.line}: `));
        expect(whole.error!.message.replace(/^[^:]+:\d+: /, "")).toMatch(first.reason!);
        expect(plain(whole.events)).toEqual(c.truth.filter((e) => e.line < first.line));
      }
    }
  }
}

/** Runs `check` on every seed and reports the first failing seed, with the case, so that it can be replayed. */
function everyCase(count: number, base: number, check: (seed: number) => void): void {
  for (let seed = base; seed < base + count; seed++) {
    try {
      check(seed);
    } catch (err) {
      throw new Error(`fuzz case seed ${seed} failed: ${(err as Error).message}`, { cause: err });
    }
  }
}

describe("the NDJSON and CSV readers under fuzzing (issue 12, item 7)", () => {
  it(`${CASES.ndjson} NDJSON cases: clean refusals or the oracle's events, whole, in pieces and as text`, () => {
    everyCase(CASES.ndjson, 1, (seed) => checkReader(seed, "ndjson"));
  });

  it(`${CASES.csv} CSV cases: clean refusals, and the events an undamaged file was written from`, () => {
    everyCase(CASES.csv, 100_001, (seed) => checkReader(seed, "csv"));
  });
});

// ---- the WASI command's reader against phasor run ----

interface WasiResult {
  status: number | null;
  trap?: string;
  stdout: Uint8Array;
  stderr: string;
}

describe("phasor-wasi's reader under fuzzing, against phasor run (issue 12, item 7)", () => {
  const inputSize = 2;
  let dir = "";
  let engine: Engine;
  let worker: Worker;
  let nextId = 0;

  beforeAll(async () => {
    const rng = new Rng(2024);
    const model = randomModel(rng, { inputSize, hidden: [5], peephole: true, rOn: 0.3, outputs: 2, mode: "last" });
    const image = quantize(model, calibrationStreams(3, inputSize), "fuzz").bytes;
    dir = scratchDirectory();
    writeFileSync(`${dir}/m.plsm`, image);
    engine = await createEngine(loadModelBytes(image, "m.plsm"), { engine: "fixed" });
    // the worker is TypeScript: tsx's loader is registered in it first (a worker does not take --import from execArgv)
    const url = new URL("./support/wasi-worker.ts", import.meta.url).href;
    worker = new Worker(`import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(url)}); });`, { eval: true });
  });
  afterAll(async () => {
    engine?.dispose();
    await worker?.terminate();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One run in the worker; a run that has not ended after `seconds` is a hang: the worker is stopped. */
  function runWasi(args: string[], stdin: Uint8Array, seconds = 20): Promise<WasiResult> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`phasor-wasi did not end within ${seconds} s`));
      }, seconds * 1000);
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      const onMessage = (message: WasiResult & { id: number }) => {
        if (message.id !== id) return;
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        resolve(message);
      };
      worker.on("message", onMessage);
      worker.once("error", onError);
      worker.postMessage({ id, build: id % 2 === 0 ? "simd" : "scalar", args, stdin, dir });
    });
  }

  /** phasor run's code on the same bytes: its stdout, its message and status, and its warning of saturated inputs. */
  async function runCli(stdin: Uint8Array, maxLineBytes: number): Promise<{ status: number; stdout: string; message: string; warning: string }> {
    let stdout = "";
    const out = new Writable({
      write(chunk: Buffer, _encoding, done) {
        stdout += chunk.toString();
        done();
      },
    });
    const input = { name: "stdin", chunks: (async function* () { yield stdin; })() };
    let warning = "";
    const ended = (_parser: unknown, saturated: { count: number; first: string | undefined }) => {
      if (saturated.count > 0) warning = `warning: ${saturationWarning(saturated.count, engine.inputFrac as number, saturated.first)}`;
    };
    try {
      await runEvents(engine, input, out, { emit: "every", hidden: false, skipBad: false, maxLineBytes, timePolicy: "reject", ended });
      return { status: 0, stdout, message: "", warning };
    } catch (err) {
      if (!(err instanceof PhasorError)) throw err;
      return { status: 2, stdout, message: err.message, warning };
    }
  }

  // Reasons worded alike by both: the rest quote the value as written (phasor-wasi) or as JSON.stringify writes it
  // again (phasor run), or are JSON syntax errors, which each reader words its own way.
  const SAME_WORDS = /^(missing "[tx]"|"t" is not finite|"x" has \d+ numbers|"x\[\d+\]" is (not finite|beyond)|not a JSON object|".*" looks like "(t|x|seq|label)" misspelt|time goes backwards|(seq|the events without seq) .* appears again|the line is longer than|.*32-bit float|.*ticks)/;

  it(`${CASES.wasi} NDJSON cases: the bytes phasor run prints, refused at the same line, never a trap or a hang`, async () => {
    let saturationWarnings = 0;
    for (let seed = 500_001; seed < 500_001 + CASES.wasi; seed++) {
      const c = drawCase(seed, "ndjson", inputSize);
      const args = ["--model", "m.plsm", ...(c.maxLineBytes === DEFAULT_MAX_LINE_BYTES ? [] : ["--max-line-bytes", String(c.maxLineBytes)])];
      const [wasi, cli] = [await runWasi(args, c.bytes), await runCli(c.bytes, c.maxLineBytes)];
      const where = `fuzz case seed ${seed}`;
      expect(wasi.trap, where).toBeUndefined();
      if (cli.status === 2 && /^stdin:\d+: /.test(cli.message) === false) continue; // a CSV header: not read by phasor-wasi
      if (/^stdin:1: CSV events are not read/.test(wasi.stderr.replace("phasor-wasi: ", ""))) continue;
      expect(Buffer.from(wasi.stdout).toString(), where).toBe(cli.stdout);
      expect(wasi.status, `${where}: ${wasi.stderr} / ${cli.message}`).toBe(cli.status);
      // inputs beyond the model's input format: the same warning first, in the same words, naming the same line
      const warning = cli.warning === "" ? "" : `phasor-wasi: ${cli.warning}\n`;
      if (warning !== "") saturationWarnings++;
      expect(wasi.stderr.slice(0, warning.length), where).toBe(warning);
      const stderr = wasi.stderr.slice(warning.length);
      if (cli.status === 0) {
        expect(stderr, where).toBe("");
        continue;
      }
      expect(stderr.endsWith("\n"), where).toBe(true);
      const message = stderr.slice(0, -1).replace(/^phasor-wasi: /, "");
      expect(message, where).not.toMatch(UNPRINTABLE);
      const [wasiPlace, cliPlace] = [/^stdin:\d+: /.exec(message)?.[0], /^stdin:\d+: /.exec(cli.message)?.[0]];
      expect(wasiPlace, `${where}: ${message} / ${cli.message}`).toBe(cliPlace);
      const reason = cli.message.slice(cliPlace!.length);
      if (SAME_WORDS.test(reason)) expect(message, where).toBe(cli.message);
    }
    // the cases draw inputs beyond the calibration's range in some runs and not in others: both were compared
    expect(saturationWarnings).toBeGreaterThan(0);
    expect(saturationWarnings).toBeLessThan(CASES.wasi);
  });
});
