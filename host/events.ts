/**
 * Event files (formats.md, "Events"): NDJSON or CSV, parsed incrementally from text chunks so that a file of
 * any size streams through in constant memory, every bad line reported as `file:line: reason`.
 * Browser-safe: no node import.
 */
import { PhasorError, badInput } from "./errors.js";

/** A stream or sequence id: a string or an integer (formats.md, "Events"). */
export type SeqId = string | number;

export interface StreamEvent {
  /** timestamp in the model's time unit */
  t: number;
  /** exactly inputSize numbers */
  x: Float64Array;
  /** undefined when the line has none (or, in NDJSON, null: what `phasor run` prints for it) */
  seq: SeqId | undefined;
  label: number | undefined;
  /** 1-based line of the event in its file, blank lines and the CSV header included */
  line: number;
}

export interface EventParserOptions {
  /** the model's input size: every event carries exactly this many numbers */
  inputSize: number;
  /** the name messages give the file; default "events" */
  file?: string;
  /** skip and count bad lines instead of throwing (the CSV header can never be skipped) */
  skipBad?: boolean;
  /**
   * Default true: an event earlier than the previous event of its seq is a bad line. false leaves it to the
   * stream's time policy (clamp, plstm.md section 4).
   */
  checkTimeOrder?: boolean;
}

/** how many reasons for skipped lines are kept for the caller's message */
const KEPT_REASONS = 5;

/** Where each column of a CSV file is, from its header: index of the field in a row, -1 when absent. */
interface CsvLayout {
  fields: number;
  x: Int32Array;
  seq: number;
  label: number;
}

/**
 * An incremental parser of one event file. `push()` takes text chunks cut anywhere (mid-line, mid-CRLF) and
 * returns the events completed so far; `end()` returns the last ones. The format is decided by the first
 * non-empty line: CSV when it is a header starting with `t,`, NDJSON otherwise.
 */
/** A bad event line; `before` holds the good events parsed in the same call before it. */
export class BadLineError extends PhasorError {
  readonly before: StreamEvent[];
  constructor(cause: PhasorError, before: StreamEvent[]) {
    super(cause.code, cause.message);
    this.before = before;
  }
}

export class EventParser {
  readonly file: string;
  private readonly inputSize: number;
  private readonly skipBad: boolean;
  private readonly checkTimeOrder: boolean;

  private skippedLines = 0;
  private readonly reasons: string[] = [];

  private format: "ndjson" | "csv" | undefined;
  private csv: CsvLayout | undefined;
  /** the unfinished last line of the chunks so far, in pieces so that a long line is joined once */
  private partial: string[] = [];
  private lineNumber = 0;

  /** seq of the last accepted event, its time and line; started is false before the first event */
  private started = false;
  private seq: SeqId | undefined;
  private lastT = -Infinity;
  private lastLine = 0;
  /** seqs already finished, with the line of their last event: a seq may not come back */
  private readonly finished = new Map<SeqId | undefined, number>();

  constructor(options: EventParserOptions) {
    if (!Number.isInteger(options.inputSize) || options.inputSize < 1) {
      throw new RangeError(`inputSize must be a positive integer, got ${options.inputSize}`);
    }
    this.inputSize = options.inputSize;
    this.file = options.file ?? "events";
    this.skipBad = options.skipBad ?? false;
    this.checkTimeOrder = options.checkTimeOrder ?? true;
  }

  /** bad lines skipped so far (only with skipBad) */
  get skipped(): number {
    return this.skippedLines;
  }

  /** `file:line: reason` of the first few skipped lines */
  get skippedReasons(): readonly string[] {
    return this.reasons;
  }

  /**
   * The events completed by this chunk. A bad line (without skipBad) throws a BadLineError that carries the
   * events of this chunk before it, so a caller can still process and print them before it stops.
   */
  push(chunk: string): StreamEvent[] {
    const events: StreamEvent[] = [];
    try {
      this.takeChunk(chunk, events);
    } catch (err) {
      throw err instanceof PhasorError ? new BadLineError(err, events) : err;
    }
    return events;
  }

  private takeChunk(chunk: string, events: StreamEvent[]): void {
    let newline = chunk.indexOf("\n");
    if (newline < 0) {
      if (chunk.length > 0) this.partial.push(chunk);
      return;
    }
    let head = chunk.slice(0, newline);
    if (this.partial.length > 0) {
      this.partial.push(head);
      head = this.partial.join("");
      this.partial = [];
    }
    this.takeLine(head, events);
    let start = newline + 1;
    while ((newline = chunk.indexOf("\n", start)) >= 0) {
      this.takeLine(chunk.slice(start, newline), events);
      start = newline + 1;
    }
    if (start < chunk.length) this.partial.push(chunk.slice(start));
  }

  /** the events of a last line without a final newline */
  end(): StreamEvent[] {
    const events: StreamEvent[] = [];
    if (this.partial.length > 0) {
      const rest = this.partial.join("");
      this.partial = [];
      this.takeLine(rest, events);
    }
    return events;
  }

  private takeLine(raw: string, events: StreamEvent[]): void {
    this.lineNumber++;
    let text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (this.lineNumber === 1 && text.startsWith("\uFEFF")) text = text.slice(1);
    const trimmed = text.trim();
    if (trimmed === "") return;

    if (this.format === undefined) {
      if (trimmed.startsWith("t,")) {
        this.format = "csv";
        this.csv = this.csvHeader(trimmed);
        return;
      }
      this.format = "ndjson";
    }
    const event = this.format === "csv" ? this.csvRow(trimmed) : this.ndjsonLine(trimmed);
    if (typeof event === "string") return this.reject(event);
    const problem = this.orderProblem(event);
    if (problem !== undefined) return this.reject(problem);
    this.accept(event);
    events.push(event);
  }

  private reject(reason: string): void {
    const where = `${this.file}:${this.lineNumber}`;
    if (!this.skipBad) throw badInput(where, reason);
    this.skippedLines++;
    if (this.reasons.length < KEPT_REASONS) this.reasons.push(`${where}: ${reason}`);
  }

  /** Events of one seq are contiguous and, unless the time policy clamps, in non-decreasing time. */
  private orderProblem(event: StreamEvent): string | undefined {
    if (!this.started || event.seq !== this.seq) {
      const endedAt = this.finished.get(event.seq);
      if (endedAt === undefined) return undefined;
      return (
        `${describeSeq(event.seq)} appears again after ${describeSeq(this.seq)}: the events of one seq must be ` +
        `contiguous (it ended at line ${endedAt})`
      );
    }
    if (this.checkTimeOrder && event.t < this.lastT) {
      const within = event.seq === undefined ? "" : ` within ${describeSeq(event.seq)}`;
      return `time goes backwards${within}: t = ${event.t} after t = ${this.lastT}`;
    }
    return undefined;
  }

  private accept(event: StreamEvent): void {
    if (this.started && event.seq !== this.seq) this.finished.set(this.seq, this.lastLine);
    this.started = true;
    this.seq = event.seq;
    this.lastT = event.t;
    this.lastLine = event.line;
  }

  /** an event, or the reason the line is bad */
  private ndjsonLine(text: string): StreamEvent | string {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const hint = /^[-+\d.]/.test(text) ? ' (a CSV file needs a header line starting with "t,")' : "";
      return `not JSON: ${(err as Error).message}${hint}`;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
    const record = value as Record<string, unknown>;

    const t = record.t;
    if (t === undefined) return 'missing "t"';
    if (typeof t !== "number") return `"t" must be a number, got ${show(t)}`;
    if (!Number.isFinite(t)) return '"t" is not finite';

    const xs = record.x;
    if (xs === undefined) return 'missing "x"';
    if (!Array.isArray(xs)) return `"x" must be an array of ${this.inputSize} numbers, got ${show(xs)}`;
    if (xs.length !== this.inputSize) {
      return `"x" has ${xs.length} numbers, the model's inputSize is ${this.inputSize}`;
    }
    const x = new Float64Array(this.inputSize);
    for (let k = 0; k < xs.length; k++) {
      const v: unknown = xs[k];
      if (typeof v !== "number") return `"x[${k}]" must be a number, got ${show(v)}`;
      if (!Number.isFinite(v)) return `"x[${k}]" is not finite`;
      if (Math.abs(v) > F32_MAX) return `"x[${k}]" ${BEYOND_F32}`;
      x[k] = v;
    }

    const seq = record.seq ?? undefined;
    if (seq !== undefined && typeof seq !== "string" && !(typeof seq === "number" && Number.isSafeInteger(seq))) {
      return `"seq" must be a string or an integer, got ${show(seq)}`;
    }
    const label = record.label ?? undefined;
    if (label !== undefined && !(typeof label === "number" && Number.isFinite(label))) {
      return `"label" must be a finite number, got ${show(label)}`;
    }
    return { t, x, seq, label, line: this.lineNumber };
  }

  /** Columns t, x0..x{I-1}, optional seq and label, in any order after t; other columns are ignored. */
  private csvHeader(text: string): CsvLayout {
    const where = `${this.file}:${this.lineNumber}`;
    const names = splitCsv(text);
    if (names === undefined) throw badInput(where, "CSV header has an unterminated quote");
    const x = new Int32Array(this.inputSize).fill(-1);
    let seq = -1;
    let label = -1;
    for (let column = 1; column < names.length; column++) {
      const name = unquote(names[column]);
      const xIndex = /^x(0|[1-9]\d*)$/.exec(name);
      if (name === "t") throw badInput(where, 'CSV header has column "t" twice');
      if (xIndex !== null) {
        const k = Number(xIndex[1]);
        if (k >= this.inputSize) {
          throw badInput(where, `CSV column ${name}, but the model's inputSize is ${this.inputSize} (x0..x${this.inputSize - 1})`);
        }
        if (x[k] >= 0) throw badInput(where, `CSV header has column "${name}" twice`);
        x[k] = column;
      } else if (name === "seq" || name === "label") {
        if ((name === "seq" ? seq : label) >= 0) throw badInput(where, `CSV header has column "${name}" twice`);
        if (name === "seq") seq = column;
        else label = column;
      }
    }
    const missing = x.indexOf(-1);
    if (missing >= 0) {
      throw badInput(where, `CSV header has no column x${missing} (the model's inputSize is ${this.inputSize})`);
    }
    return { fields: names.length, x, seq, label };
  }

  private csvRow(text: string): StreamEvent | string {
    const layout = this.csv as CsvLayout;
    const fields = splitCsv(text);
    if (fields === undefined) return "bad CSV row: unterminated quote or text after a closing quote";
    if (fields.length !== layout.fields) return `bad CSV row: ${fields.length} fields, the header has ${layout.fields}`;

    const t = csvNumber(fields[0]);
    if (typeof t === "string") return `t ${t}`;
    const x = new Float64Array(this.inputSize);
    for (let k = 0; k < this.inputSize; k++) {
      const v = csvNumber(fields[layout.x[k]]);
      if (typeof v === "string") return `x${k} ${v}`;
      if (Math.abs(v) > F32_MAX) return `x${k} ${BEYOND_F32}`;
      x[k] = v;
    }
    const seq = layout.seq < 0 ? undefined : csvSeq(fields[layout.seq]);
    let label: number | undefined;
    if (layout.label >= 0 && fields[layout.label] !== "") {
      const v = csvNumber(fields[layout.label]);
      if (typeof v === "string") return `label ${v}`;
      label = v;
    }
    return { t, x, seq, label, line: this.lineNumber };
  }
}

export interface ParsedEvents {
  events: StreamEvent[];
  skipped: number;
  skippedReasons: readonly string[];
}

/** The whole text of an event file at once. */
export function parseEvents(text: string, options: EventParserOptions): ParsedEvents {
  const parser = new EventParser(options);
  const events = parser.push(text);
  for (const event of parser.end()) events.push(event);
  return { events, skipped: parser.skipped, skippedReasons: parser.skippedReasons };
}

/** Consecutive events with the same seq: one stream each, whose state starts at zero. */
export interface EventSequence {
  seq: SeqId | undefined;
  events: StreamEvent[];
  /** the last label given by the sequence's events, if any */
  label: number | undefined;
}

/** Groups consecutive events by seq; events without seq form one stream (formats.md, "Events"). */
export function groupBySeq(events: Iterable<StreamEvent>): EventSequence[] {
  const sequences: EventSequence[] = [];
  let current: EventSequence | undefined;
  for (const event of events) {
    if (current === undefined || event.seq !== current.seq) {
      current = { seq: event.seq, events: [], label: undefined };
      sequences.push(current);
    }
    current.events.push(event);
    if (event.label !== undefined) current.label = event.label;
  }
  return sequences;
}

function describeSeq(seq: SeqId | undefined): string {
  return seq === undefined ? "the events without seq" : `seq ${JSON.stringify(seq)}`;
}

/** a value as a message shows it: JSON, cut short */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Splits a CSV line on commas, with RFC 4180 double-quoted fields (kept with their quotes, so that a quoted seq
 * stays a string). Fields are trimmed. undefined for an unterminated quote or text after a closing quote.
 */
function splitCsv(line: string): string[] | undefined {
  if (!line.includes('"')) return line.split(",").map((field) => field.trim());
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === " " || line[i] === "\t") i++;
    if (line[i] === '"') {
      let j = i + 1;
      for (;;) {
        const quote = line.indexOf('"', j);
        if (quote < 0) return undefined;
        j = quote + 1;
        if (line[j] !== '"') break;
        j++;
      }
      fields.push(line.slice(i, j));
      while (line[j] === " " || line[j] === "\t") j++;
      if (j === line.length) return fields;
      if (line[j] !== ",") return undefined;
      i = j + 1;
    } else {
      const comma = line.indexOf(",", i);
      if (comma < 0) {
        fields.push(line.slice(i).trim());
        return fields;
      }
      fields.push(line.slice(i, comma).trim());
      i = comma + 1;
    }
  }
}

function unquote(field: string): string {
  return field.startsWith('"') ? field.slice(1, -1).replaceAll('""', '"') : field;
}

/** The largest finite 32-bit float: the wasm engines take inputs as f32, so anything beyond is refused here, the
 * same for every engine (and so --skip-bad can skip it), rather than by some engines only. */
const F32_MAX = 3.4028234663852886e38;
const BEYOND_F32 = "is beyond the 32-bit float range (+-3.4e38) the engines take";

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:inf|infinity|nan)$/i;

/** a finite number, or why the field is not one (to follow the column's name) */
function csvNumber(field: string): number | string {
  const text = unquote(field);
  if (DECIMAL.test(text)) {
    const value = Number(text);
    return Number.isFinite(value) ? value : `is not finite: ${show(text)}`;
  }
  if (NON_FINITE.test(text)) return `is not finite: ${show(text)}`;
  return `is not a number: ${show(text)}`;
}

/** An unquoted integer is an integer id, anything else (a quoted field included) a string id; empty is none. */
function csvSeq(field: string): SeqId | undefined {
  if (field === "") return undefined;
  if (!field.startsWith('"') && /^-?\d+$/.test(field)) {
    const value = Number(field);
    if (Number.isSafeInteger(value)) return value;
  }
  return unquote(field);
}
