/**
 * What a reading message holds (docs/gateway.md, "Topics and messages"), read without trusting any of it: every
 * payload, whatever its bytes, becomes either a list of readings (each well-formed or with the reason it is not)
 * or the reason the whole message is malformed. Nothing here throws. Browser-safe.
 *
 *   one reading:   {"seq": 1042, "t": 1712345678901.25, "v": [0.1, -0.3, 9.8], "ts": 1712345678901}
 *   labelled:      {"seq": 1043, "t": 1712345678902.5, "v": [0.2, -0.3, 9.7], "label": 2}
 *   several:       {"seq": 1042, "readings": [{"t": ..., "v": [...]}, {"t": ..., "v": 21.5, "sensor": "temp"}], "ts": ...}
 *   a reset:       {"seq": 1045, "reset": true}   (the device's stream starts again, as a new device's)
 *   of a run:      {"seq": 0, "boot": "7f3a", "t": ..., "v": [...]}   (any form: the device's id for its current run)
 *
 * `seq` numbers readings, not messages: the k-th reading of a message has sequence number seq + k, so a message of
 * n readings uses seq .. seq + n - 1 and a redelivered or re-sent reading is recognised on its own. `seq` counts
 * within the device's run, `boot` (docs/gateway.md, "Starting a device again"): a device that cannot keep its
 * counter across its own restarts draws a new id at each boot and starts `seq` again; a message without `boot`
 * belongs to the run "".
 */
import { mayRepeatNames, nestedBeyond, repeatedNames, type RepeatedName } from "../json-text.js";
import { lookalikeOf } from "../misspelt.js";

/** One reading of a message: sensor (the topic's unless the reading names one), time and channel values, and the
 * label the device's readout learns from after it (docs/gateway.md, "Learning"), if it has one. */
export interface Reading {
  sensor: string;
  t: number;
  values: number[];
  label?: number | number[];
}

/** `boot` is the run `seq` counts in ("" for a message without one); it is read whenever `seq` is. */
export type ParsedMessage =
  /** the message as a whole is unusable; `seq` is its sequence number when that much could be read, with its run */
  | { ok: false; seq: null; why: string }
  | { ok: false; seq: number; boot: string; why: string }
  /** readings in order, reading k with sequence number seq + k; a malformed one says why */
  | { ok: true; seq: number; boot: string; reset?: false; batch: boolean; ts: number | undefined; readings: (Reading | { malformed: string })[] }
  /** the device's stream and time start again (docs/gateway.md, "Starting a device again") */
  | { ok: true; seq: number; boot: string; reset: true };

/**
 * A run's id as a message gives it (`boot`): 1 to 64 characters of this set, or a non-negative safe integer, which
 * stands for its decimal string (5 and "5" are one run). Short enough that a device's past runs cost little in the
 * snapshots; no character that needs escaping in JSON or a log line.
 */
export const BOOT_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** Runs before the current one a device's entry remembers: a message of one of them is a redelivery (a duplicate),
 * of an older one a new run. Eight covers a device that reboots several times while a crashed gateway is away. */
export const MAX_PAST_BOOTS = 8;

/** Why a message's run cannot be read, in the words of its dead letter. */
export const BAD_BOOT = "boot is not a run's id: a string of 1 to 64 characters of A-Z a-z 0-9 . _ : -, or an integer from 0 to 2^53 - 1";

/** The run a message's `boot` names ("" without one), or undefined when it is not a run's id. */
export function bootOf(value: unknown): string | undefined {
  if (value === undefined) return "";
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? String(value) : undefined;
  return typeof value === "string" && BOOT_PATTERN.test(value) ? value : undefined;
}

/** Readings per message unless --max-readings says otherwise: bounds the work one message can ask for. */
export const DEFAULT_MAX_READINGS = 1000;

/**
 * Bytes per message unless --max-payload-bytes says otherwise (the CLI's --max-line-bytes default): bounds the
 * memory and time one message can take, and the WAL line that records it. A message of 1,000 readings of 16
 * random channel values in JSON is 347 KB.
 */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1 << 20;

/** What one message may ask for. */
export interface MessageLimits {
  /** readings (--max-readings) */
  maxReadings: number;
  /** bytes (--max-payload-bytes); a longer message is refused (malformed) before it is decoded */
  maxPayloadBytes: number;
}

/** JSON is UTF-8 (RFC 8259): bytes that are not are refused, not replaced. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * `size` is the message's size as received, where `payload` holds only its first bytes (the WAL keeps no more of a
 * message refused for its size); a message over the limit is refused before a byte of it is decoded.
 */
export function parseMessage(payload: Uint8Array, topicSensor: string, limits: MessageLimits, size = payload.length): ParsedMessage {
  const { maxReadings, maxPayloadBytes } = limits;
  if (size > maxPayloadBytes) return { ok: false, seq: null, why: `${size} bytes, at most ${maxPayloadBytes} per message (--max-payload-bytes)` };
  if (size > payload.length) return { ok: false, seq: null, why: `${size} bytes, more than --max-payload-bytes when it was received (the WAL kept its first ${payload.length})` };
  if (size === 0) return { ok: false, seq: null, why: "an empty message, not a JSON object" };
  const deep = nestedBeyond(payload, MAX_NESTING);
  if (deep >= 0) return { ok: false, seq: null, why: `nested deeper than ${MAX_NESTING} arrays and objects, at byte ${deep}` };
  let text: string;
  try {
    text = UTF8.decode(payload);
  } catch {
    return { ok: false, seq: null, why: "not UTF-8 (JSON text is UTF-8, RFC 8259)" };
  }
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (err) {
    // V8's reason names the position or quotes the place; the log and the dead letter are JSON, so whatever it
    // quotes is escaped there
    return { ok: false, seq: null, why: `not JSON: ${(err as Error).message}` };
  }
  if (typeof message !== "object" || message === null || Array.isArray(message)) return { ok: false, seq: null, why: "not a JSON object" };
  const m = message as Record<string, unknown>;
  const repeated = repeatedFields(text, m);
  // of a seq or boot given twice JSON.parse kept one, which need not be the device's: the message uses up no seq
  const twice = repeated.find((r) => r.path.length === 0 && (r.name === "seq" || r.name === "boot"));
  if (twice !== undefined) return { ok: false, seq: null, why: `"${twice.name}" is given twice` };
  if (!Number.isSafeInteger(m.seq) || (m.seq as number) < 0) return { ok: false, seq: null, why: "seq is missing or not a non-negative integer" };
  // a sequence number means something only in its run: without one the message cannot use up or repeat a seq
  const boot = bootOf(m.boot);
  if (boot === undefined) return { ok: false, seq: null, why: BAD_BOOT };
  const seq = m.seq as number;
  const malformed = (why: string): ParsedMessage => ({ ok: false, seq, boot, why });
  // the names first, a misspelt one and then one given twice, as in a reading and an event line; then the values
  const lookalike = misspeltField(m, MESSAGE_FIELDS);
  if (lookalike !== null) return malformed(lookalike);
  const ofMessage = repeated.find((r) => r.path.length === 0);
  if (ofMessage !== undefined) return malformed(`"${ofMessage.name}" is given twice`);
  if (m.ts !== undefined && !(typeof m.ts === "number" && Number.isFinite(m.ts))) return malformed("ts is not a finite number (epoch milliseconds)");
  const ts = m.ts as number | undefined;
  if (m.reset !== undefined) {
    if (m.reset !== true) return malformed("reset is not true");
    if (m.t !== undefined || m.v !== undefined || m.readings !== undefined || m.label !== undefined) return malformed('a reset carries nothing but "seq", "ts" and "boot"');
    return { ok: true, seq, boot, reset: true };
  }
  if (m.readings === undefined) {
    if (m.t === undefined || m.v === undefined) return malformed('expected "t" and "v", or "readings"');
    return { ok: true, seq, boot, batch: false, ts, readings: [reading(m, topicSensor)] };
  }
  if (m.t !== undefined || m.v !== undefined) return malformed('a message has "t" and "v" or "readings", not both');
  for (const field of ["label", "sensor"]) if (m[field] !== undefined) return malformed(`"${field}" beside "readings": it belongs in each reading`);
  if (!Array.isArray(m.readings) || m.readings.length === 0) return malformed("readings is not a non-empty array");
  if (m.readings.length > maxReadings) return malformed(`${m.readings.length} readings, at most ${maxReadings} per message (--max-readings)`);
  if (seq > Number.MAX_SAFE_INTEGER - (m.readings.length - 1)) return malformed("the readings' sequence numbers go past 2^53 - 1");
  // a reading with a field given twice is refused alone, as one with a misspelt field is
  const twiceIn = new Map<unknown, string>();
  for (const r of repeated) if (!twiceIn.has(r.path[1])) twiceIn.set(r.path[1], r.name);
  return {
    ok: true,
    seq,
    boot,
    batch: true,
    ts,
    readings: m.readings.map((r: unknown, k) => (typeof r === "object" && r !== null && !Array.isArray(r) ? reading(r as Record<string, unknown>, topicSensor, true, twiceIn.get(k)) : { malformed: "a reading is not a JSON object" })),
  };
}

/**
 * The gateway's fields given twice in the message (`text`, which JSON.parse made `m` of) or in a reading of its
 * `readings`, in the text's order: JSON.parse kept the last of each and dropped the others without a word. A field of
 * the device's own may repeat. Most messages repeat nothing, which mayRepeatNames's counts show without the scan.
 */
function repeatedFields(text: string, m: Record<string, unknown>): RepeatedName[] {
  if (!mayRepeatNames(text, m)) return [];
  return repeatedNames(text, (name, path) => (path.length === 0 ? MESSAGE_FIELDS.includes(name) : path.length === 2 && path[0] === "readings" && typeof path[1] === "number" && READING_FIELDS.includes(name)));
}

/** The fields the gateway reads in a message, and in a reading of `readings`. */
const MESSAGE_FIELDS = ["seq", "boot", "ts", "reset", "readings", "t", "v", "label", "sensor"];
const READING_FIELDS = ["t", "v", "label", "sensor"];
const MESSAGE_ONLY = ["seq", "boot", "ts", "reset", "readings"];

/**
 * Why a message or reading has a field that would be lost without a word, or null. A device may add fields of its
 * own (an id, a firmware version), which the gateway leaves alone; but one of the gateway's fields misspelt would
 * be one of those: a "lable" never learned from, a "bot" that leaves a rebooted device in the run "" and its readings
 * duplicates. So a field that is one of the gateway's up to case, or one edit (a letter more, less or changed, or
 * two swapped) from one of its names of 4 letters or more, is refused, as is a message's field inside a reading.
 */
function misspeltField(fields: Record<string, unknown>, known: readonly string[]): string | null {
  for (const name of Object.keys(fields)) {
    if (known.includes(name)) continue;
    if (known === READING_FIELDS && MESSAGE_ONLY.includes(name)) return `"${name}" in a reading: it belongs to the message, beside "readings"`;
    const meant = lookalikeOf(name, MESSAGE_FIELDS);
    if (meant !== undefined) return `"${name}" looks like "${meant}" misspelt (a field of the device's own must differ from the gateway's by more than case or one letter)`;
  }
  return null;
}

/**
 * Arrays and objects one message may nest: a message of readings needs 4 (the message, its readings, a reading,
 * its values or label), and the rest leaves room for what a device adds of its own. Deeper nesting is refused before
 * JSON.parse, which took 90 ms of the shard's time for a 1 MiB message of "[" against 4 ms for 1 MiB of numbers.
 */
export const MAX_NESTING = 32;

/** t and v of one reading (`twice`: a field of it given twice, by repeatedFields); JSON has no NaN, so null stands
 * for it (and is refused later as not finite). */
function reading(r: Record<string, unknown>, topicSensor: string, ofReadings = false, twice?: string): Reading | { malformed: string } {
  // a message of one reading had its fields checked as the message's
  const lookalike = ofReadings ? misspeltField(r, READING_FIELDS) : null;
  if (lookalike !== null) return { malformed: lookalike };
  if (twice !== undefined) return { malformed: `"${twice}" is given twice` };
  if (r.sensor !== undefined && typeof r.sensor !== "string") return { malformed: "sensor is not a string" };
  if (!(typeof r.t === "number" || r.t === null)) return { malformed: "t is not a number" };
  const v = typeof r.v === "number" || r.v === null ? [r.v] : r.v;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "number" || x === null)) return { malformed: "v is not a number or an array of numbers" };
  const label = r.label;
  if (!(label === undefined || typeof label === "number" || (Array.isArray(label) && label.every((x) => typeof x === "number")))) {
    return { malformed: "label is not a number or an array of numbers" };
  }
  const sensor = (r.sensor as string | undefined) ?? topicSensor;
  const values = v.map((x: number | null) => x ?? NaN);
  return label === undefined ? { sensor, t: r.t ?? NaN, values } : { sensor, t: r.t ?? NaN, values, label: label as number | number[] };
}
