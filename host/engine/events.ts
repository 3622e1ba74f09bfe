/**
 * Event files (formats.md, "Events"): NDJSON or CSV, parsed incrementally from text or byte chunks so that a
 * file of any size streams through in constant memory, every bad line reported as `file:line: reason`. A line
 * longer than a limit (maxLineBytes) is refused as soon as it is known to be too long, before it is gathered,
 * so memory is bounded by the limit, not by the longest line of the file (issue 12, item 4).
 * Browser-safe: no node import.
 */
import { JSON_MAX_NESTING } from "../../assembly/contract/plsm.js";
import { PhasorError, badInput, escapeControls, givenText, knownOptions } from "../errors.js";
import { mayNestBeyond, mayRepeatNames, repeatedName, tooDeepFirst } from "../json-text.js";
import { misspeltName } from "../misspelt.js";
import { F32_MAX } from "./stream-checks.js";

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

const EVENT_PARSER_OPTIONS: readonly (keyof EventParserOptions)[] = ["inputSize", "file", "skipBad", "checkTimeOrder", "maxLineBytes"];

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
  /**
   * The longest line accepted, in UTF-8 bytes, its line end ("\n" or "\r\n") not counted; default
   * DEFAULT_MAX_LINE_BYTES. A longer line is a bad line.
   */
  maxLineBytes?: number;
}

/**
 * The default line limit: a sensor event is a few hundred bytes even with thousands of inputs, so 1 MiB leaves
 * room for any real one while a runaway line (a file without newlines, a binary file) is refused at once.
 * phasor-wasi has the same default (assembly/wasi.ts, docs/wasi.md).
 */
export const DEFAULT_MAX_LINE_BYTES = 1 << 20;
/** The largest limit that can be set: a line is parsed as one JavaScript string, and 256 MiB is well inside
 * the longest string V8 holds (2^29 - 24 characters). */
export const MAX_LINE_BYTES_LIMIT = 1 << 28;

const NEWLINE = 10;
/** what a line end is, for the messages about a carriage return inside a line */
const LINE_ENDS = "lines end with LF or CRLF, not CR alone";
const CARRIAGE_RETURN = 13;

/** how many reasons for skipped lines are kept for the caller's message */
const KEPT_REASONS = 5;

/** Where each column of a CSV file is, from its header: index of the field in a row, -1 when absent. */
interface CsvLayout {
  fields: number;
  x: Int32Array;
  seq: number;
  label: number;
}

/** A bad event line; `before` holds the good events parsed in the same call before it. */
export class BadLineError extends PhasorError {
  readonly before: StreamEvent[];
  constructor(cause: PhasorError, before: StreamEvent[]) {
    super(cause.code, cause.message);
    this.before = before;
  }
}

/**
 * An incremental parser of one event file. `push()` takes text chunks (`pushBytes()` UTF-8 bytes) cut anywhere (mid-line, mid-CRLF) and
 * returns the events completed so far; `end()` returns the last ones. The format is decided by the first
 * non-empty line: CSV when it is a header starting with the column t (`t,`, or `"t",`), NDJSON otherwise.
 */
export class EventParser {
  readonly file: string;
  private readonly inputSize: number;
  private readonly skipBad: boolean;
  private readonly checkTimeOrder: boolean;
  private readonly maxLineBytes: number;
  /** lines of byte chunks are decoded whole: a line never ends inside a UTF-8 sequence, and a byte order mark
   * is kept for line 1 to drop as the text path drops it */
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });

  private skippedLines = 0;
  private readonly reasons: string[] = [];

  private format: "ndjson" | "csv" | undefined;
  private csv: CsvLayout | undefined;
  /** the unfinished last line of the chunks so far, in pieces so that a long line is joined once */
  private partial: string[] = [];
  private partialBytes: Uint8Array[] = [];
  /** UTF-8 bytes in partial or partialBytes */
  private partialSize = 0;
  /** the rest of a line already refused as too long is being passed over, up to its newline */
  private passingOver = false;
  private lineNumber = 0;

  /** seq of the last accepted event, its time and line; started is false before the first event */
  private started = false;
  private seq: SeqId | undefined;
  private lastT = -Infinity;
  private lastLine = 0;
  /** seqs already finished, with the line of their last event: a seq may not come back */
  private readonly finished = new Map<SeqId | undefined, number>();

  constructor(options: EventParserOptions) {
    if (typeof options !== "object" || options === null) throw new PhasorError("bad-args", `EventParser: expected options as an object, got ${givenText(options)}`);
    knownOptions("EventParser", options, EVENT_PARSER_OPTIONS);
    // a flag given as the text "false" would be truthy: bad lines skipped, or time order unchecked, unsaid
    for (const flag of ["skipBad", "checkTimeOrder"] as const) {
      if (options[flag] !== undefined && typeof options[flag] !== "boolean") throw new PhasorError("bad-args", `${flag} must be true or false, got ${JSON.stringify(options[flag])}`);
    }
    if (options.file !== undefined && typeof options.file !== "string") throw new PhasorError("bad-args", `file must be a name (a string), got ${givenText(options.file)}`);
    if (!Number.isInteger(options.inputSize) || options.inputSize < 1) {
      throw new PhasorError("bad-args", `inputSize must be a positive integer, got ${givenText(options.inputSize)}`);
    }
    this.inputSize = options.inputSize;
    this.file = options.file ?? "events";
    this.skipBad = options.skipBad ?? false;
    this.checkTimeOrder = options.checkTimeOrder ?? true;
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isInteger(this.maxLineBytes) || this.maxLineBytes < 1 || this.maxLineBytes > MAX_LINE_BYTES_LIMIT) {
      throw new PhasorError("bad-args", `maxLineBytes must be an integer in [1, ${MAX_LINE_BYTES_LIMIT}], got ${givenText(options.maxLineBytes)}`);
    }
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
   * The events completed by this chunk of text. A bad line (without skipBad) throws a BadLineError that carries
   * the events of this chunk before it, so a caller can still process and print them before it stops. A parser
   * takes text chunks (push) or byte chunks (pushBytes), not both.
   */
  push(chunk: string): StreamEvent[] {
    // an object was read as no lines at all, and its events as none; bytes failed inside the reader
    if (typeof chunk !== "string") throw new PhasorError("bad-args", `EventParser.push: expected text (a string), got ${(chunk as unknown) instanceof Uint8Array ? "bytes, which pushBytes takes" : givenText(chunk)}`);
    return this.collect((events) => this.takeText(chunk, events));
  }

  /** The events completed by this chunk of UTF-8 bytes (invalid sequences become U+FFFD), as push. */
  pushBytes(chunk: Uint8Array): StreamEvent[] {
    if (!(chunk instanceof Uint8Array)) throw new PhasorError("bad-args", `EventParser.pushBytes: expected bytes (a Uint8Array), got ${typeof chunk === "string" ? "text, which push takes" : givenText(chunk)}`);
    return this.collect((events) => this.takeBytes(chunk, events));
  }

  /** the events of a last line without a final newline */
  end(): StreamEvent[] {
    return this.collect((events) => {
      if (this.partial.length > 0) {
        const line = this.partial.join("");
        this.takeSizedLine(this.partialSize, line.endsWith("\r"), () => line, events);
      } else if (this.partialBytes.length > 0) {
        const line = joinBytes(this.partialBytes, this.partialSize);
        this.takeSizedLine(line.length, line[line.length - 1] === CARRIAGE_RETURN, () => this.decoder.decode(line), events);
      }
      this.clearPartial();
    });
  }

  private collect(take: (events: StreamEvent[]) => void): StreamEvent[] {
    const events: StreamEvent[] = [];
    try {
      take(events);
    } catch (err) {
      throw err instanceof PhasorError ? new BadLineError(err, events) : err;
    }
    return events;
  }

  private takeText(chunk: string, events: StreamEvent[]): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf("\n", start);
      const end = newline < 0 ? chunk.length : newline;
      if (this.passingOver) {
        if (newline < 0) return;
        this.passingOver = false;
      } else if (this.partial.length === 0 && newline >= 0) {
        const line = chunk.slice(start, end);
        // at most 3 UTF-8 bytes a UTF-16 unit: most lines need no count
        const size = 3 * line.length <= this.maxLineBytes ? 0 : utf8Bytes(line);
        this.takeSizedLine(size, line.endsWith("\r"), () => line, events);
      } else {
        const piece = chunk.slice(start, end);
        this.partial.push(piece);
        this.partialSize += utf8Bytes(piece);
        if (newline < 0) return this.refuseIfTooLongSoFar();
        const line = this.partial.join("");
        const size = this.partialSize;
        this.clearPartial();
        this.takeSizedLine(size, line.endsWith("\r"), () => line, events);
      }
      start = end + 1;
    }
  }

  private takeBytes(chunk: Uint8Array, events: StreamEvent[]): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline < 0 ? chunk.length : newline;
      if (this.passingOver) {
        if (newline < 0) return;
        this.passingOver = false;
      } else if (this.partialBytes.length === 0 && newline >= 0) {
        start = this.takeWholeLines(chunk, start, newline, events);
        continue;
      } else {
        // copied: the caller may reuse its buffer
        this.partialBytes.push(chunk.slice(start, end));
        this.partialSize += end - start;
        if (newline < 0) return this.refuseIfTooLongSoFar();
        const line = joinBytes(this.partialBytes, this.partialSize);
        this.clearPartial();
        this.takeSizedLine(line.length, line[line.length - 1] === CARRIAGE_RETURN, () => this.decoder.decode(line), events);
      }
      start = end + 1;
    }
  }

  /**
   * The lines of `chunk` that end in it, from `start` (whose line ends at `newline`): runs of lines within the
   * limit are decoded in one call each. Returns where the unfinished last line begins.
   */
  private takeWholeLines(chunk: Uint8Array, start: number, newline: number, events: StreamEvent[]): number {
    if (chunk.length - start <= this.maxLineBytes) {
      // no line of this chunk can be over the limit: all of them in one run, without looking at each
      const last = chunk.lastIndexOf(NEWLINE);
      this.takeRun(chunk.subarray(start, last + 1), events);
      return last + 1;
    }
    let runStart = start;
    let lineStart = start;
    while (newline >= 0) {
      if (this.tooLong(newline - lineStart, newline > lineStart && chunk[newline - 1] === CARRIAGE_RETURN)) {
        this.takeRun(chunk.subarray(runStart, lineStart), events);
        this.refuseLongLine();
        runStart = newline + 1;
      }
      lineStart = newline + 1;
      newline = chunk.indexOf(NEWLINE, lineStart);
    }
    this.takeRun(chunk.subarray(runStart, lineStart), events);
    return lineStart;
  }

  /** whole lines, each ending with its newline */
  private takeRun(bytes: Uint8Array, events: StreamEvent[]): void {
    if (bytes.length === 0) return;
    const text = this.decoder.decode(bytes);
    let start = 0;
    let newline: number;
    while ((newline = text.indexOf("\n", start)) >= 0) {
      this.takeLine(text.slice(start, newline), events);
      start = newline + 1;
    }
  }

  /** A line of `size` UTF-8 bytes (0: known to be within the limit), decoded only when it is within it. */
  private takeSizedLine(size: number, endsWithReturn: boolean, text: () => string, events: StreamEvent[]): void {
    if (this.tooLong(size, endsWithReturn)) this.refuseLongLine();
    else this.takeLine(text(), events);
  }

  private tooLong(size: number, endsWithReturn: boolean): boolean {
    return size - (endsWithReturn ? 1 : 0) > this.maxLineBytes;
  }

  /** An unfinished line already longer than the limit even if its last byte is the "\r" of a CRLF is refused now,
   * and the rest of it passed over, so that it is never held whole. */
  private refuseIfTooLongSoFar(): void {
    if (this.partialSize <= this.maxLineBytes + 1) return;
    this.clearPartial();
    this.passingOver = true;
    this.refuseLongLine();
  }

  private refuseLongLine(): void {
    this.lineNumber++;
    this.reject(`the line is longer than ${this.maxLineBytes} bytes (the limit; --max-line-bytes raises it)`);
  }

  private clearPartial(): void {
    this.partial = [];
    this.partialBytes = [];
    this.partialSize = 0;
  }

  private takeLine(raw: string, events: StreamEvent[]): void {
    this.lineNumber++;
    let text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (this.lineNumber === 1 && text.startsWith("\uFEFF")) text = text.slice(1);
    const trimmed = text.trim();
    if (trimmed === "") return;

    if (this.format === undefined) {
      if (CSV_HEADER.test(trimmed)) {
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

  /** A bad line: thrown, or with skipBad counted. Messages quote the input with its control characters escaped. */
  private reject(reason: string): void {
    const error = this.badLine(reason);
    if (!this.skipBad) throw error;
    this.skippedLines++;
    if (this.reasons.length < KEPT_REASONS) this.reasons.push(error.message);
  }

  private badLine(reason: string): PhasorError {
    return badInput(`${escapeControls(this.file)}:${this.lineNumber}`, escapeControls(reason));
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
      return `not JSON: ${(err as Error).message}${notJsonHint(text)}`;
    }
    // phasor-wasi's reader recurses and stops at its bound: refused here too, so that both take the same lines (a
    // line that deep holds two brackets a level: only one long enough, with brackets enough, is read for it)
    if (text.length > 2 * JSON_MAX_NESTING && mayNestBeyond(text, JSON_MAX_NESTING) && tooDeepFirst(text, JSON_MAX_NESTING)) {
      return `not JSON: arrays and objects nested more than ${JSON_MAX_NESTING} deep, which phasor-wasi does not read`;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
    const record = value as Record<string, unknown>;
    // no key of a JSON object is an array index that looks like a field, so Object.keys has them in the line's order
    const names = Object.keys(record);
    for (const name of names) {
      const meant = misspeltName(name, NDJSON_FIELDS);
      if (meant !== undefined) return `"${name}" looks like "${meant}" misspelt ${OWN_FIELD}`;
    }
    // JSON.parse kept the last of a field given twice: the first would be dropped unsaid
    if (mayRepeatNames(text, record, names.length)) {
      const repeated = repeatedName(text, (name, path) => path.length === 0 && NDJSON_FIELDS.includes(name));
      if (repeated !== undefined) return `"${repeated.name}" is given twice`;
    }

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
    if (typeof seq === "number" && Number.isInteger(seq) && !Number.isSafeInteger(seq)) {
      return '"seq" is an integer beyond +-(2^53 - 1), which JSON numbers do not hold exactly: give such an id as a string';
    }
    if (seq !== undefined && typeof seq !== "string" && !(typeof seq === "number" && Number.isSafeInteger(seq))) {
      return `"seq" must be a string or an integer, got ${show(seq)}`;
    }
    const label = record.label ?? undefined;
    if (label !== undefined && !(typeof label === "number" && Number.isFinite(label))) {
      return `"label" must be a finite number, got ${show(label)}`;
    }
    return { t, x, seq, label, line: this.lineNumber };
  }

  /**
   * Columns t, x0..x{I-1}, optional seq and label, in any order after t; other columns are ignored, unless they
   * look like one of these misspelt (x5 looks like x5 whatever the inputSize).
   */
  private csvHeader(text: string): CsvLayout {
    // a file of CR-only line ends is one line, whose header would otherwise lack a column it has
    if (text.includes("\r")) throw this.badLine(`CSV header holds a carriage return (\\r) that does not end the line: ${LINE_ENDS}`);
    const names = splitCsv(text);
    if (names === undefined) throw this.badLine("CSV header has an unterminated quote");
    const x = new Int32Array(this.inputSize).fill(-1);
    let seq = -1;
    let label = -1;
    for (let column = 1; column < names.length; column++) {
      const name = unquote(names[column]);
      const xIndex = X_COLUMN.exec(name);
      if (name === "t") throw this.badLine('CSV header has column "t" twice');
      if (xIndex !== null) {
        const k = Number(xIndex[1]);
        if (k >= this.inputSize) {
          throw this.badLine(`CSV column ${name}, but the model's inputSize is ${this.inputSize} (x0..x${this.inputSize - 1})`);
        }
        if (x[k] >= 0) throw this.badLine(`CSV header has column "${name}" twice`);
        x[k] = column;
      } else if (name === "seq" || name === "label") {
        if ((name === "seq" ? seq : label) >= 0) throw this.badLine(`CSV header has column "${name}" twice`);
        if (name === "seq") seq = column;
        else label = column;
      } else {
        const lower = name.toLowerCase();
        const meant = misspeltName(name, X_COLUMN.test(lower) ? [lower] : CSV_COLUMNS);
        if (meant !== undefined) throw this.badLine(`CSV column "${name}" looks like "${meant}" misspelt ${OWN_COLUMN}`);
      }
    }
    const missing = x.indexOf(-1);
    if (missing >= 0) {
      throw this.badLine(`CSV header has no column x${missing} (the model's inputSize is ${this.inputSize})`);
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

/** What most likely made a line that is not JSON, when the line shows it. */
function notJsonHint(text: string): string {
  if (text.includes("\r")) return ` (the line holds a carriage return (\\r) that does not end it: ${LINE_ENDS})`;
  // what Python's json.dumps writes for non-finite floats by default
  if (/[:,[]\s*-?(NaN|Infinity)\s*[,\]}]/.test(text)) return " (NaN and Infinity are no JSON numbers, and an event's numbers must be finite)";
  // a CSV file without its header, or with a header whose column t is not first (a file is CSV by that column)
  if (/^[-+\d.]/.test(text) || csvHeaderWithTLater(text)) return ' (a CSV file needs a header line starting with "t,")';
  return "";
}

/** UTF-8 bytes of text, a surrogate counted as 2 (a pair is 4, even when cut between two pieces). */
function utf8Bytes(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0x80) bytes += unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}

function joinBytes(pieces: Uint8Array[], size: number): Uint8Array {
  if (pieces.length === 1) return pieces[0];
  const joined = new Uint8Array(size);
  let at = 0;
  for (const piece of pieces) {
    joined.set(piece, at);
    at += piece.length;
  }
  return joined;
}

/** A seq as messages name it: `seq "a"`, `seq 7`, or "the events without seq". */
export function describeSeq(seq: SeqId | undefined): string {
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

/** Inputs beyond F32_MAX are refused here, the same for every engine (and so --skip-bad can skip them), rather
 * than by the engine at run time. */
const BEYOND_F32 = "is beyond the 32-bit float range (+-3.4e38) the engines take";

/**
 * The names of the format (formats.md, "Events"), and why a name of the file's own may not look like one of them
 * (host/misspelt.ts): a "Seq" would make the file one stream, a "lable" leave it unlabelled, without a word. The
 * same words in assembly/wasi/ndjson.ts and host/c/csv_events.c.
 */
const NDJSON_FIELDS = ["t", "x", "seq", "label"];
const CSV_COLUMNS = ["t", "seq", "label"];
const X_COLUMN = /^x(0|[1-9]\d*)$/;
const OWN_FIELD = "(a field of your own must differ from the format's by more than case or one letter)";
const OWN_COLUMN = "(a column of your own must differ from the format's by more than case or one letter)";

/** A CSV header starts with the column t, its name quoted or not (R's write.csv quotes every name). */
const CSV_HEADER = /^(t|"t")\s*,/;
/** A line without JSON's brackets that has a column t after its first: a CSV header in another order
 * (assembly/wasi/ndjson.ts, csvHeaderWithTLater, words the same hint for it). */
function csvHeaderWithTLater(text: string): boolean {
  return !/[{}[\]]/.test(text) && /,[ \t]*(t|"t")[ \t]*(,|$)/.test(text);
}

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
