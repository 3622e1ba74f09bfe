/**
 * Multi-sensor input encoding (docs/gateway.md, "Sensors"): a model's inputs are split among named sensors, each
 * with its own channels and input slots. A reading from one sensor fills only that sensor's slots; the other
 * slots are zero, or keep their sensor's last value where the sensor is declared `hold`. Sensors report at their
 * own rates and the Phased LSTM's time gate, not resampling, deals with that (plstm.md section 1: every event
 * has its own timestamp).
 *
 * Every reading is validated before it touches any state: the encoder checks what is its own (the sensor, the
 * channel count, the device's time order, values that stay finite through offset and scale), and the stream's
 * engine answers, through Stream.check, for everything it would refuse itself (a value beyond a 32-bit float, a
 * time beyond its clock). A refused reading leaves the device's state (stream, held values, last time) exactly as
 * it was; the reason is one of SENSOR_REJECTIONS, for the caller to count. Browser-safe: no node import.
 */
import type { Stream, TimePolicy } from "../engine/engine.js";
import { PhasorError, givenText, quote, type EventRefusal } from "../errors.js";
import { checkTimePolicy } from "../engine/stream-checks.js";
import { refuseLookalikes } from "../misspelt.js";

/**
 * Names of sensors (and of devices, in the gateway) are MQTT topic levels and parts of file names: letters,
 * digits, `_`, `-` and `.`, not starting with `.`, at most 64 characters. No `/`, `+`, `#` or spaces.
 */
export const NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

export interface SensorSpec {
  name: string;
  channels: number;
  /** the model input slot of each channel */
  slots: Int32Array;
  /** the sensor's slots keep their last value in events of other sensors (0 before its first reading) */
  hold: boolean;
  /** slot value = (reading - offset) * scale, per channel; null means offset 0, scale 1 */
  offset: Float64Array | null;
  scale: Float64Array | null;
}

/** The sensors of one model: every slot belongs to at most one sensor; slots of no sensor stay 0. */
export interface SensorLayout {
  inputSize: number;
  sensors: SensorSpec[];
}

/** The format of a sensor declaration file (docs/gateway.md, "Sensors"). */
export const SENSORS_FORMAT = "phasor-sensors";
export const SENSORS_VERSION = 1;

/**
 * Why a reading was refused, each with its policy (docs/gateway.md, "Validation"):
 * - unknownSensor: the sensor is not declared. Dropped.
 * - wrongChannels: the reading has more or fewer values than the sensor's channels. Dropped.
 * - nonFinite: t or a value is not a finite number (JSON null, 1e999), also after offset and scale and as the
 *   engine holds it (a 32-bit float in the wasm engines: 1e39 is not one). Dropped: no value is invented.
 * - timeBackwards: t is earlier than the device's previous accepted reading, with time policy "reject".
 *   Dropped (with policy "clamp" it is accepted at the previous time and counted as clamped instead).
 * - timeRange: t is further from the device's first reading than the engine's clock can count (2^62 ticks in
 *   the wasm engines, plstm.md section 4). Dropped.
 */
export const SENSOR_REJECTIONS = ["unknownSensor", "wrongChannels", "nonFinite", "timeBackwards", "timeRange"] as const;
export type SensorRejection = (typeof SENSOR_REJECTIONS)[number];

/** What became of one reading: accepted, accepted at the previous time (clamp policy), or refused and why. */
export type ReadingOutcome = "accepted" | "clamped" | SensorRejection;

/** The reason an engine gives (Stream.check) as the encoder counts it. */
const ENGINE_REFUSALS: Record<EventRefusal, SensorRejection> = {
  nonFinite: "nonFinite",
  timeBackwards: "timeBackwards",
  timeRange: "timeRange",
  // x is built with the model's inputSize (SensorStream checks the layout against the stream): never expected
  wrongLength: "wrongChannels",
  // x is built of numbers and t is checked to be one: never expected either
  notNumber: "nonFinite",
};

/** The layout of a model without a declaration: one sensor "x" whose channels are the model's inputs, in order. */
export function defaultSensorLayout(inputSize: number): SensorLayout {
  checkInputSize("defaultSensorLayout", inputSize);
  return {
    inputSize,
    sensors: [{ name: "x", channels: inputSize, slots: Int32Array.from({ length: inputSize }, (_, k) => k), hold: false, offset: null, scale: null }],
  };
}

/** The model's inputSize a layout is made for: a whole number from 1 (text "2" made a layout no stream matched). */
function checkInputSize(call: string, inputSize: unknown): void {
  if (typeof inputSize !== "number" || !Number.isInteger(inputSize) || inputSize < 1) {
    throw new PhasorError("bad-args", `${call}: inputSize (the model's) must be a whole number from 1, got ${givenText(inputSize)}`);
  }
}

// A sensor declaration's names (parseSensorLayout). Fields of the file's own are ignored, but not one that looks
// like one of these misspelt (host/misspelt.ts): an "offsets" ignored would leave every reading of the sensor
// unshifted.
const DECLARATION_FIELDS = ["format", "version", "hold", "sensors"];
const SENSOR_FIELDS = ["name", "channels", "slots", "hold", "offset", "scale"];

/**
 * Reads a sensor declaration: `{"format": "phasor-sensors", "version": 1, "hold": false, "sensors": [...]}`, or
 * the bare `sensors` array (as the optional `sensors` field of a float model file holds it). Each sensor is
 * `{"name", "channels", "slots", "hold"?, "offset"?, "scale"?}`; `slots` may be omitted, then the sensor takes the
 * next `channels` free slots in declaration order. Anything wrong is a "bad-model" PhasorError naming the field.
 */
export function parseSensorLayout(json: unknown, inputSize: number, source: string): SensorLayout {
  const fail = (path: string, why: string): never => {
    throw new PhasorError("bad-model", `${source}: ${path}: ${why}`);
  };
  checkInputSize("parseSensorLayout", inputSize);
  let list: unknown = json;
  let holdDefault = false;
  if (typeof json === "object" && json !== null && !Array.isArray(json)) {
    const top = json as Record<string, unknown>;
    refuseLookalikes(top, DECLARATION_FIELDS, "", fail);
    if (top.format !== undefined && top.format !== SENSORS_FORMAT) fail("format", `expected "${SENSORS_FORMAT}", got ${JSON.stringify(top.format)}`);
    if (top.version !== undefined && top.version !== SENSORS_VERSION) fail("version", `unsupported version ${JSON.stringify(top.version)}, this reader knows ${SENSORS_VERSION}`);
    if (top.hold !== undefined && typeof top.hold !== "boolean") fail("hold", "expected true or false");
    holdDefault = top.hold === true;
    list = top.sensors;
  }
  if (!Array.isArray(list) || list.length === 0) fail("sensors", "expected a non-empty array of sensors");
  const owner = new Array<string | undefined>(inputSize);
  let nextFree = 0;
  const names = new Set<string>();
  const sensors = (list as unknown[]).map((raw, n): SensorSpec => {
    const at = `sensors[${n}]`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail(at, "expected an object");
    const s = raw as Record<string, unknown>;
    refuseLookalikes(s, SENSOR_FIELDS, `${at}.`, fail);
    if (typeof s.name !== "string" || !NAME_PATTERN.test(s.name)) {
      fail(`${at}.name`, `expected a name of letters, digits, "_", "-" or "." (not first), at most 64 characters, got ${JSON.stringify(s.name)}`);
    }
    const name = s.name as string;
    if (names.has(name)) fail(`${at}.name`, `sensor "${name}" is declared twice`);
    names.add(name);
    const channels = s.channels;
    if (typeof channels !== "number" || !Number.isInteger(channels) || channels < 1 || channels > inputSize) {
      fail(`${at}.channels`, `expected an integer from 1 to the model's inputSize ${inputSize}, got ${JSON.stringify(channels)}`);
    }
    const c = channels as number;
    let slots: Int32Array;
    if (s.slots === undefined) {
      slots = new Int32Array(c);
      for (let k = 0; k < c; k++) {
        while (nextFree < inputSize && owner[nextFree] !== undefined) nextFree++;
        if (nextFree >= inputSize) fail(`${at}.channels`, `no free input slot left for channel ${k} (inputSize ${inputSize})`);
        slots[k] = nextFree;
        owner[nextFree] = name;
      }
    } else {
      if (!Array.isArray(s.slots) || s.slots.length !== c) fail(`${at}.slots`, `expected ${c} slot indices, one per channel`);
      slots = new Int32Array(c);
      (s.slots as unknown[]).forEach((slot, k) => {
        if (typeof slot !== "number" || !Number.isInteger(slot) || slot < 0 || slot >= inputSize) {
          fail(`${at}.slots[${k}]`, `expected an input slot from 0 to ${inputSize - 1}, got ${JSON.stringify(slot)}`);
        }
        const taken = owner[slot as number];
        if (taken !== undefined) fail(`${at}.slots[${k}]`, `slot ${slot} already belongs to sensor "${taken}"`);
        owner[slot as number] = name;
        slots[k] = slot as number;
      });
    }
    if (s.hold !== undefined && typeof s.hold !== "boolean") fail(`${at}.hold`, "expected true or false");
    return {
      name,
      channels: c,
      slots,
      hold: s.hold === undefined ? holdDefault : (s.hold as boolean),
      offset: finiteVector(s.offset, c, `${at}.offset`, fail),
      scale: finiteVector(s.scale, c, `${at}.scale`, fail),
    };
  });
  return { inputSize, sensors };
}

function finiteVector(value: unknown, length: number, path: string, fail: (path: string, why: string) => never): Float64Array | null {
  if (value === undefined) return null;
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === "number" && Number.isFinite(v))) {
    fail(path, `expected ${length} finite numbers, one per channel`);
  }
  return Float64Array.from(value as number[]);
}

/**
 * A layout built in code held to a declaration's rules, by reading back its JSON form: a slot beyond the model's
 * inputs took its channel's values into no input at all, a slot given to two sensors mixed them.
 */
function checkLayout(layout: SensorLayout): void {
  const sensors = (layout as { sensors?: unknown } | null)?.sensors;
  if (typeof layout !== "object" || layout === null || !Array.isArray(sensors) || !sensors.every((s) => typeof s === "object" && s !== null)) {
    throw new PhasorError("bad-args", "SensorStream: layout must be a SensorLayout { inputSize, sensors }, as parseSensorLayout or defaultSensorLayout gives it");
  }
  parseSensorLayout(sensorLayoutToJson(layout), layout.inputSize, "SensorStream layout");
}

/** The declaration as JSON (the file format), for fingerprints and messages. */
export function sensorLayoutToJson(layout: SensorLayout): object {
  return {
    format: SENSORS_FORMAT,
    version: SENSORS_VERSION,
    sensors: layout.sensors.map((s) => ({
      name: s.name,
      channels: s.channels,
      slots: Array.from(s.slots),
      hold: s.hold,
      ...(s.offset ? { offset: Array.from(s.offset) } : {}),
      ...(s.scale ? { scale: Array.from(s.scale) } : {}),
    })),
  };
}

/** What a device's encoder keeps between readings, as plain JSON (numbers round-trip exactly through JSON). */
export interface DeviceInputState {
  /** time of the last accepted reading, null before the first */
  lastT: number | null;
  /** the last value of every slot of a hold sensor (0 elsewhere) */
  held: number[];
}

/**
 * One device's encoder: turns (sensor, t, values) into the model's (t, x), enforcing the device's time order.
 * `prepare` checks a reading and sets `t` and `x` without changing the device's state; `commit` then makes it the
 * device's last reading (its time, the held values). `encode` is both at once, for a caller without an engine.
 */
export class DeviceInput {
  /** the event of the last prepared reading */
  t = 0;
  readonly x: Float64Array;
  /** why the last refused reading was refused, in words (for logs and dead letters) */
  refusal = "";
  private readonly held: Float64Array;
  /** the current reading after offset and scale, checked before x is written */
  private readonly scaled: Float64Array;
  private lastT: number | null = null;
  private prepared: SensorSpec | null = null;
  private readonly byName: Map<string, SensorSpec>;

  constructor(
    readonly layout: SensorLayout,
    readonly timePolicy: TimePolicy = "reject",
  ) {
    // anything but "reject" was run as "clamp": a misspelt "rejct" took every earlier reading
    checkTimePolicy(timePolicy);
    this.x = new Float64Array(layout.inputSize);
    this.held = new Float64Array(layout.inputSize);
    this.scaled = new Float64Array(layout.inputSize);
    this.byName = new Map(layout.sensors.map((s) => [s.name, s]));
  }

  /** Checks a reading and, unless it is refused, sets `t` and `x`; the device's state is not changed. */
  prepare(sensorName: string, t: number, values: ArrayLike<number>): ReadingOutcome {
    this.prepared = null;
    if (typeof values !== "object" || values === null || typeof values.length !== "number") {
      throw new PhasorError("bad-args", `sensor reading: values must be an array of numbers, got ${values === null ? "null" : typeof values}`);
    }
    const sensor = this.byName.get(sensorName);
    if (sensor === undefined) {
      return this.refuse("unknownSensor", `sensor ${quote(sensorName)} is not declared (sensors: ${this.layout.sensors.map((s) => s.name).join(", ")})`);
    }
    if (values.length !== sensor.channels) {
      return this.refuse("wrongChannels", `sensor ${quote(sensorName)} has ${sensor.channels} channels, the reading has ${values.length} values`);
    }
    // before the time order: a clamp would otherwise turn -Infinity into the previous time
    if (typeof t !== "number" || !Number.isFinite(t)) return this.refuse("nonFinite", `t is ${givenText(t)}, not a finite number`);
    // scaled first, so that a value the scale pushes past the float range is refused like a raw one; the held
    // values feed later events of other sensors, so the encoder keeps them finite whatever engine runs
    for (let k = 0; k < sensor.channels; k++) {
      let v = values[k];
      // offset and scale would turn the text "0.5" into a number, which no reading of the gateway's can be
      if (typeof v !== "number") return this.refuse("nonFinite", `value ${k} of sensor ${quote(sensorName)} is ${givenText(v)}, not a number`);
      if (sensor.offset) v -= sensor.offset[k];
      if (sensor.scale) v *= sensor.scale[k];
      if (!Number.isFinite(v)) return this.refuse("nonFinite", `value ${k} of sensor ${quote(sensorName)} is ${values[k]}, ${v} after offset and scale: not a finite number`);
      this.scaled[k] = v;
    }
    let outcome: ReadingOutcome = "accepted";
    let time = t;
    if (this.lastT !== null && t < this.lastT) {
      if (this.timePolicy === "reject") return this.refuse("timeBackwards", `t=${t} is earlier than the device's previous reading at t=${this.lastT}`);
      time = this.lastT;
      outcome = "clamped";
    }
    this.t = time;
    for (const other of this.layout.sensors) {
      if (other === sensor) continue;
      for (let k = 0; k < other.channels; k++) this.x[other.slots[k]] = other.hold ? this.held[other.slots[k]] : 0;
    }
    for (let k = 0; k < sensor.channels; k++) this.x[sensor.slots[k]] = this.scaled[k];
    this.prepared = sensor;
    return outcome;
  }

  /** Makes the reading `prepare` accepted last the device's latest: its time, and its values where held. */
  commit(): void {
    const sensor = this.prepared;
    if (sensor === null) throw new PhasorError("runtime", "DeviceInput.commit: no accepted reading was prepared");
    this.prepared = null;
    this.lastT = this.t;
    if (sensor.hold) for (let k = 0; k < sensor.channels; k++) this.held[sensor.slots[k]] = this.x[sensor.slots[k]];
  }

  /** prepare and, unless refused, commit */
  encode(sensorName: string, t: number, values: ArrayLike<number>): ReadingOutcome {
    const outcome = this.prepare(sensorName, t, values);
    if (outcome === "accepted" || outcome === "clamped") this.commit();
    return outcome;
  }

  /** A reading refused for a reason found outside the encoder (the engine's check): nothing is committed. */
  refuse(outcome: SensorRejection, why: string): SensorRejection {
    this.prepared = null;
    this.refusal = why;
    return outcome;
  }

  state(): DeviceInputState {
    return { lastT: this.lastT, held: Array.from(this.held) };
  }

  /** As a new device's: no previous reading, no held values. */
  reset(): void {
    this.prepared = null;
    this.lastT = null;
    this.held.fill(0);
  }

  restore(state: DeviceInputState): void {
    if (
      typeof state !== "object" ||
      state === null ||
      !Array.isArray(state.held) ||
      state.held.length !== this.held.length ||
      !state.held.every((v) => typeof v === "number" && Number.isFinite(v)) ||
      (state.lastT !== null && !(typeof state.lastT === "number" && Number.isFinite(state.lastT)))
    ) {
      throw new PhasorError("bad-input", `device input state: expected ${this.held.length} finite held values and a finite lastT or null`);
    }
    this.prepared = null;
    this.lastT = state.lastT;
    this.held.set(state.held);
  }
}

export type ReadingCounters = Record<ReadingOutcome, number>;

export function emptyReadingCounters(): ReadingCounters {
  return Object.fromEntries(["accepted", "clamped", ...SENSOR_REJECTIONS].map((key) => [key, 0])) as ReadingCounters;
}

/**
 * A device's readings into one Stream: encoding, validation, counting. The gateway keeps one per device; it is
 * also the way to run sensor readings through a model in process (tests, the browser).
 */
export class SensorStream {
  readonly input: DeviceInput;
  readonly counters = emptyReadingCounters();

  constructor(
    readonly stream: Stream,
    layout: SensorLayout,
    timePolicy: TimePolicy = "reject",
  ) {
    checkLayout(layout);
    if (layout.inputSize !== stream.inputSize) {
      throw new PhasorError("bad-args", `the sensor layout is for inputSize ${layout.inputSize}, the model takes ${stream.inputSize}`);
    }
    this.input = new DeviceInput(layout, timePolicy);
  }

  /** why the last refused reading was refused, in words */
  get refusal(): string {
    return this.input.refusal;
  }

  /**
   * Validates and encodes a reading, asks the engine whether it would take the event, and only then pushes it
   * and commits it to the encoder; a refused reading changes nothing but its counter. Should the engine fail
   * (throw in push after check accepted, or refuse without a reason), the error propagates with the encoder
   * untouched and nothing counted: the caller decides what becomes of the stream (the gateway restores it).
   */
  push(sensor: string, t: number, values: ArrayLike<number>): ReadingOutcome {
    let outcome = this.input.prepare(sensor, t, values);
    if (outcome === "accepted" || outcome === "clamped") {
      const refused = this.stream.check(this.input.t, this.input.x);
      if (refused === null) {
        this.stream.push(this.input.t, this.input.x);
        this.input.commit();
      } else {
        // an answer without a reason is the engine's failure, not the reading's
        if (refused.refusal === undefined) throw refused;
        outcome = this.input.refuse(ENGINE_REFUSALS[refused.refusal], refused.message);
      }
    }
    this.counters[outcome]++;
    return outcome;
  }
}
