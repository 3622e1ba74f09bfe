// formats.md, "Fixed-point model: binary (.plsm)": truncated, corrupted or oversized files are rejected with a
// clear error, never read out of bounds, never trusted for sizes without checking them against the file length;
// docs/plsm.md, "What a reader checks before using anything", lists the checks. Both readers are held to all of
// them: decodePlsm (host/model/plsm.ts, what the CLI and the reference engine read) and the wasm loader
// (assembly/model.ts, reached through createEngine with engine "fixed"), so that no file one accepts is one the
// other refuses. Each must throw a PhasorError "bad-model" whose message says what is wrong; neither may crash (a
// wasm trap or a RangeError is a failure) or return a model. Where a field is rewritten, the checksum is recomputed
// so that the structural checks, not the CRC, are what must catch it.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { createEngine, type LoadedModel } from "../host/engine/create.js";
import type { SimdChoice } from "../host/engine/engine.js";
import { decodePlsm, encodePlsm, withMetadata, type PlsmFile } from "../host/model/plsm.js";
import { quantize } from "../host/model/quantize.js";
import { Rng, randomModel, randomStream } from "./support/random.js";
import { asyncRejection, rejection } from "./support/engines.js";
import { crc32, rewritten as rewrittenBytes, withMetadataText } from "./support/plsm-bytes.js";

// Field offsets from docs/plsm.md: the 64-byte header, 64-byte layer descriptors from offset 64, the readout
// descriptor, and 32-byte unit and time records.
const HEADER = { fileBytes: 8, version: 4, kind: 6, inputSize: 12, layerCount: 16, outputSize: 20, mode: 24, ticksLog2: 28, inputFrac: 32, readoutDesc: 36, meta: 40, metaBytes: 44 };
const LAYER_DESC = (n: number) => 64 + 64 * n;
const DESC = { inputSize: 0, hiddenSize: 4, flags: 8, pFrac: 12, W: 16, U: 20, units: 24, time: 28 };
const UNIT = { wFrac: 16, uFrac: 20 };
const TIME = { tau: 0, shift: 8, step: 16, halfOn: 24, stepLow: 28 };

// A small quantized model (about 1.3 kB): 2 inputs, layers of 3 and 2 units with peepholes, 2 outputs.
const MODEL = randomModel(new Rng(17), { inputSize: 2, hidden: [3, 2], peephole: true, rOn: 0.2, outputs: 2, mode: "last" });
const GOOD = quantize(MODEL, [randomStream(new Rng(18), { n: 100, inputSize: 2 })], "good.plsm").bytes;
const GOOD_FILE = decodePlsm(GOOD, "good.plsm");
const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const u32 = (bytes: Uint8Array, at: number) => view(bytes).getUint32(at, true);
const layerField = (n: number, field: keyof typeof DESC) => u32(GOOD, LAYER_DESC(n) + DESC[field]);
const readoutDesc = u32(GOOD, HEADER.readoutDesc);
const V_AT = u32(GOOD, readoutDesc);
const ROWS_AT = u32(GOOD, readoutDesc + 4);

/** A copy of the good file changed by `edit`, with the checksum made right again. */
function rewritten(edit: (v: DataView) => void, bytes = GOOD): Uint8Array {
  return rewrittenBytes(bytes, edit);
}

/** The file as createEngine sees a .plsm it was given (bypassing decodePlsm, so the wasm loader is what checks). */
function asLoaded(bytes: Uint8Array): LoadedModel {
  const plsm: PlsmFile = { ...GOOD_FILE, bytes };
  return { format: "plsm", model: GOOD_FILE.model, plsm, source: "bad.plsm" };
}

function decodeRejects(bytes: Uint8Array, message: RegExp, what: string): void {
  const e = rejection(() => decodePlsm(bytes, "bad.plsm"), "bad-model", `decodePlsm, ${what}`);
  expect(e.message, `decodePlsm, ${what}`).toMatch(/^bad\.plsm: /);
  expect(e.message, `decodePlsm, ${what}`).toMatch(message);
}

async function wasmRejects(bytes: Uint8Array, message: RegExp, what: string, simd: SimdChoice = "auto"): Promise<void> {
  const e = await asyncRejection(() => createEngine(asLoaded(bytes), { engine: "fixed", simd }), "bad-model", `wasm loader (simd ${simd}), ${what}`);
  expect(e.message, `wasm loader, ${what}`).toMatch(/^bad\.plsm: /);
  expect(e.message, `wasm loader, ${what}`).toMatch(message);
}

describe("the good file", () => {
  it("is accepted by both readers, and the engine runs it (the cases below differ from it only as stated)", async () => {
    expect(crc32(GOOD.subarray(0, GOOD.length - 4))).toBe(u32(GOOD, GOOD.length - 4));
    expect(rewritten(() => {})).toEqual(GOOD);
    for (const simd of ["on", "off"] as SimdChoice[]) {
      const engine = await createEngine(asLoaded(GOOD), { engine: "fixed", simd });
      const stream = engine.createStream();
      stream.push(1, [0.5, -0.5]);
      expect(stream.output()).toHaveLength(2);
    }
    expect(GOOD_FILE.model.layers.map((L) => L.hiddenSize)).toEqual([3, 2]);
  });
});

describe("truncated, padded and bit-flipped files", () => {
  it("every prefix of the file is rejected", async () => {
    for (let n = 0; n < GOOD.length; n++) {
      const prefix = GOOD.slice(0, n);
      decodeRejects(prefix, /short|truncated|bytes/, `first ${n} bytes`);
      await wasmRejects(prefix, /short|truncated|bytes/, `first ${n} bytes`);
    }
  });

  it("a file with bytes appended is rejected, also when its checksum is made to match", async () => {
    for (const extra of [1, 4, 16, 1000]) {
      const padded = new Uint8Array(GOOD.length + extra);
      padded.set(GOOD);
      decodeRejects(padded, /bytes|padded/, `${extra} bytes appended`);
      await wasmRejects(padded, /bytes|padded/, `${extra} bytes appended`);
      const resealed = new Uint8Array(GOOD.length + extra);
      resealed.set(GOOD.subarray(0, GOOD.length - 4));
      view(resealed).setUint32(resealed.length - 4, crc32(resealed.subarray(0, resealed.length - 4)), true);
      decodeRejects(resealed, /bytes|padded/, `${extra} bytes inserted before the checksum`);
      await wasmRejects(resealed, /bytes|padded/, `${extra} bytes inserted before the checksum`);
    }
  });

  it("a single changed byte anywhere is rejected", async () => {
    for (let at = 0; at < GOOD.length; at++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = GOOD.slice();
        bad[at] ^= mask;
        decodeRejects(bad, /checksum|corrupt|magic|version|kind|bytes|layer count/, `byte ${at} ^ ${mask}`);
        await wasmRejects(bad, /checksum|corrupt|magic|version|kind|bytes|layer count/, `byte ${at} ^ ${mask}`);
      }
    }
  });
});

type Case = [name: string, edit: (v: DataView) => void, message: RegExp];

const U32_MAX = 0xffffffff;
const fileLength = GOOD.length;

// Header fields that lie about sizes or formats.
const HEADER_CASES: Case[] = [
  ["version 2", (v) => v.setUint16(HEADER.version, 2, true), /version/],
  ["kind 7", (v) => v.setUint16(HEADER.kind, 7, true), /kind/],
  ["fileBytes 8 more than the file", (v) => v.setUint32(HEADER.fileBytes, fileLength + 8, true), /bytes/],
  ["fileBytes 8 less than the file", (v) => v.setUint32(HEADER.fileBytes, fileLength - 8, true), /bytes/],
  ["fileBytes 2^32 - 1", (v) => v.setUint32(HEADER.fileBytes, U32_MAX, true), /bytes/],
  ["inputSize 0", (v) => v.setUint32(HEADER.inputSize, 0, true), /input/i],
  ["inputSize 3 (layer 0 takes 2)", (v) => v.setUint32(HEADER.inputSize, 3, true), /input/i],
  ["inputSize 65537", (v) => v.setUint32(HEADER.inputSize, 65537, true), /input/i],
  ["inputSize 2^32 - 1", (v) => v.setUint32(HEADER.inputSize, U32_MAX, true), /input/i],
  ["0 layers", (v) => v.setUint32(HEADER.layerCount, 0, true), /layer/i],
  ["3 layers (the table has 2)", (v) => v.setUint32(HEADER.layerCount, 3, true), /layer/i],
  ["65 layers", (v) => v.setUint32(HEADER.layerCount, 65, true), /layer/i],
  ["2^32 - 1 layers", (v) => v.setUint32(HEADER.layerCount, U32_MAX, true), /layer/i],
  ["outputSize 0", (v) => v.setUint32(HEADER.outputSize, 0, true), /output/i],
  ["outputSize 1000", (v) => v.setUint32(HEADER.outputSize, 1000, true), /output|readout/i],
  ["outputSize 65537", (v) => v.setUint32(HEADER.outputSize, 65537, true), /output/i],
  ["outputSize 2^31 - 1", (v) => v.setUint32(HEADER.outputSize, 0x7fffffff, true), /output|readout/i],
  ["readout mode 2", (v) => v.setUint32(HEADER.mode, 2, true), /mode/],
  ["ticksLog2 41", (v) => v.setInt32(HEADER.ticksLog2, 41, true), /ticks/],
  ["ticksLog2 -1", (v) => v.setInt32(HEADER.ticksLog2, -1, true), /ticks/],
  ["inputFrac 31", (v) => v.setInt32(HEADER.inputFrac, 31, true), /inputFrac|input format/],
  ["readout descriptor at the end of the file", (v) => v.setUint32(HEADER.readoutDesc, fileLength, true), /readout/],
  ["readout descriptor at 2^32 - 16", (v) => v.setUint32(HEADER.readoutDesc, U32_MAX - 15, true), /readout/],
  ["readout descriptor inside the header", (v) => v.setUint32(HEADER.readoutDesc, 16, true), /readout/],
  ["readout descriptor misaligned", (v) => v.setUint32(HEADER.readoutDesc, readoutDesc + 4, true), /readout/],
];

// Layer descriptors: sizes that lie, offsets outside the file or misaligned, unknown flags.
const LAYER_CASES: Case[] = [0, 1].flatMap((n): Case[] => {
  const at = (field: keyof typeof DESC) => LAYER_DESC(n) + DESC[field];
  const cases: Case[] = [
    [`layer ${n}: hidden size 0`, (v) => v.setUint32(at("hiddenSize"), 0, true), /hidden size/],
    [`layer ${n}: hidden size 1000`, (v) => v.setUint32(at("hiddenSize"), 1000, true), /hidden size|outside|past/],
    [`layer ${n}: hidden size 65536`, (v) => v.setUint32(at("hiddenSize"), 65536, true), /hidden size|outside|past/],
    [`layer ${n}: hidden size 2^32 - 1`, (v) => v.setUint32(at("hiddenSize"), U32_MAX, true), /hidden size/],
    [`layer ${n}: input size 4`, (v) => v.setUint32(at("inputSize"), 4, true), /input size/],
    // bit 1 (2) is LAYER_INT8, a flag of its own: test/int8-weights.test.ts holds its files to these checks
    [`layer ${n}: flags 4`, (v) => v.setUint32(at("flags"), 4, true), /flags/],
    [`layer ${n}: peephole format 31`, (v) => v.setInt32(at("pFrac"), 31, true), /peephole/],
  ];
  for (const region of ["W", "U", "units", "time"] as const) {
    const offset = layerField(n, region);
    const name = region === "units" ? /unit records/ : region === "time" ? /time records/ : new RegExp(`\\b${region}\\b`);
    cases.push(
      [`layer ${n}: ${region} at the end of the file`, (v) => v.setUint32(at(region), fileLength, true), name],
      [`layer ${n}: ${region} running past the end`, (v) => v.setUint32(at(region), fileLength - 16, true), name],
      [`layer ${n}: ${region} at 2^32 - 16 (wraps a 32-bit sum)`, (v) => v.setUint32(at(region), U32_MAX - 15, true), name],
      [`layer ${n}: ${region} inside the header`, (v) => v.setUint32(at(region), 32, true), name],
      [`layer ${n}: ${region} misaligned by 2`, (v) => v.setUint32(at(region), offset + 2, true), name],
    );
  }
  return cases;
});

const READOUT_CASES: Case[] = [
  ["readout V at the end of the file", (v) => v.setUint32(readoutDesc, fileLength, true), /readout V|\bV\b/],
  ["readout V at 2^32 - 16", (v) => v.setUint32(readoutDesc, U32_MAX - 15, true), /readout V|\bV\b/],
  ["readout V misaligned by 2", (v) => v.setUint32(readoutDesc, V_AT + 2, true), /readout V|\bV\b/],
  ["readout rows past the end", (v) => v.setUint32(readoutDesc + 4, fileLength - 8, true), /readout rows|rows/],
  ["readout rows misaligned by 8", (v) => v.setUint32(readoutDesc + 4, ROWS_AT + 8, true), /readout rows|rows/],
  ["readout row format 31", (v) => v.setInt32(ROWS_AT + 4, 31, true), /readout row/],
];

// What the weights and per-unit records may not hold.
const W0 = layerField(0, "W");
const U0 = layerField(0, "U");
const W1 = layerField(1, "W");
const U1 = layerField(1, "U");
const UNITS0 = layerField(0, "units");
const TIME0 = layerField(0, "time");
const TIME1 = layerField(1, "time");
const ROW = 16; // bytes of a padded row of 8 i16
const CONTENT_CASES: Case[] = [
  ["nonzero padding after a W row (layer 0, row 0, column 2 of 2)", (v) => v.setInt16(W0 + 4, 1, true), /padding/],
  ["nonzero padding at the end of a W row (layer 0, last row, column 7)", (v) => v.setInt16(W0 + 11 * ROW + 14, -3, true), /padding/],
  ["nonzero padding after a U row (layer 1, row 5, column 2 of 2)", (v) => v.setInt16(U1 + 5 * ROW + 4, 7, true), /padding/],
  ["nonzero padding after a readout row (row 1, column 2 of 2)", (v) => v.setInt16(V_AT + ROW + 4, 1, true), /padding/],
  ["a W weight of -32768", (v) => v.setInt16(W0 + 2 * ROW, -32768, true), /32768|overflow|weight/],
  ["a U weight of -32768", (v) => v.setInt16(U0 + 3 * ROW + 2, -32768, true), /32768|overflow|weight/],
  ["a readout weight of -32768", (v) => v.setInt16(V_AT, -32768, true), /32768|overflow|weight/],
  [
    // (a row of 2 weights cannot exceed the limit: 2 x 32767 < 65538; layer 1's W rows have 3. A U row is bounded
    // by SIMD lane, columns 0 and 1 here: test/u-sums-are-exact-in-64-bits.test.ts)
    "a W row whose sum of |w| is 3 x 32767, over the limit of 65538",
    (v) => [0, 1, 2].forEach((i) => v.setInt16(W1 + 4 * ROW + 2 * i, i === 1 ? -32767 : 32767, true)),
    /layer 1 W row 4.*(overflow|sum)/,
  ],
  ["a row format of 31 (layer 0, unit 1, gate f of W)", (v) => v.setInt8(UNITS0 + 32 + UNIT.wFrac + 1, 31), /format|invalid/],
  ["a row format of -17 (layer 0, unit 2, gate o of U)", (v) => v.setInt8(UNITS0 + 64 + UNIT.uFrac + 3, -17), /format|invalid/],
];

// Time records: tau <= 0, not finite or outside [2^-20, 2^42], a shift that is not finite, an open ratio of 0, below
// 2^-16 or above 1, an open window shorter than 4096 ticks, a step that is not tau's.
const TIME_CASES: Case[] = [
  ["tau just below 2^-20 (layer 0, unit 1)", (v) => v.setFloat64(TIME0 + 32 + TIME.tau, 2 ** -20 * (1 - 2 ** -53), true), /tau.*2\^-20, 2\^42/],
  ["tau just above 2^42 (layer 1, unit 0)", (v) => v.setFloat64(TIME1 + TIME.tau, 2 ** 42 * (1 + 2 ** -52), true), /tau.*2\^-20, 2\^42/],
  ["tau 1e-12 (layer 0, unit 0)", (v) => v.setFloat64(TIME0 + TIME.tau, 1e-12, true), /tau.*2\^-20, 2\^42/],
  ["open ratio just below 2^-16 (half-open 2^15 - 1, layer 0, unit 1)", (v) => v.setUint32(TIME0 + 32 + TIME.halfOn, 2 ** 15 - 1, true), /r_on.*2\^-16, 1/],
  ["open windows of fewer than 4096 ticks (ticksLog2 0)", (v) => v.setInt32(HEADER.ticksLog2, 0, true), /window.*4096 ticks/],
  ["a phase step one more than tau's (layer 1, unit 1)", (v) => v.setBigUint64(TIME1 + 32 + TIME.step, v.getBigUint64(TIME1 + 32 + TIME.step, true) + 1n, true), /step/],
  ["a phase step whose low bits are not tau's (layer 0, unit 2)", (v) => v.setUint32(TIME0 + 64 + TIME.stepLow, v.getUint32(TIME0 + 64 + TIME.stepLow, true) ^ 1, true), /step/],
  ["tau 0 (layer 0, unit 0)", (v) => v.setFloat64(TIME0 + TIME.tau, 0, true), /tau|time/],
  ["tau -2.5 (layer 0, unit 2)", (v) => v.setFloat64(TIME0 + 64 + TIME.tau, -2.5, true), /tau|time/],
  ["tau -0 (layer 1, unit 1)", (v) => v.setFloat64(TIME1 + 32 + TIME.tau, -0, true), /tau|time/],
  ["tau NaN (layer 1, unit 0)", (v) => v.setFloat64(TIME1 + TIME.tau, NaN, true), /tau|time/],
  ["tau Infinity (layer 0, unit 1)", (v) => v.setFloat64(TIME0 + 32 + TIME.tau, Infinity, true), /tau|time/],
  ["shift NaN (layer 0, unit 1)", (v) => v.setFloat64(TIME0 + 32 + TIME.shift, NaN, true), /shift|time/],
  ["shift -Infinity (layer 1, unit 1)", (v) => v.setFloat64(TIME1 + 32 + TIME.shift, -Infinity, true), /shift|time/],
  ["open ratio 0 (half-open 0, layer 0, unit 0)", (v) => v.setUint32(TIME0 + TIME.halfOn, 0, true), /rOn|open|time/],
  ["open ratio above 1 (half-open 2^31 + 1, layer 1, unit 0)", (v) => v.setUint32(TIME1 + TIME.halfOn, 0x80000001, true), /rOn|open|time/],
  ["phase step 0 (layer 0, unit 2)", (v) => v.setBigUint64(TIME0 + 64 + TIME.step, 0n, true), /step|time/],
];

const GROUPS: [string, Case[]][] = [
  ["header fields", HEADER_CASES],
  ["layer descriptors", LAYER_CASES],
  ["the readout", READOUT_CASES],
  ["weights and unit records", CONTENT_CASES],
  ["time records", TIME_CASES],
];

describe.each(GROUPS)("structural checks with a valid checksum: %s", (_, cases) => {
  const named = cases.map((c) => [c[0], c] as [string, Case]);
  it.each(named)("decodePlsm rejects %s", (name, [, edit, message]) => {
    const bad = rewritten(edit);
    expect(bad, "the case changes the file").not.toEqual(GOOD);
    decodeRejects(bad, message, name);
  });
  it.each(named)("the wasm loader rejects %s", async (name, [, edit, message]) => {
    const bad = rewritten(edit);
    await wasmRejects(bad, message, name, "on");
    await wasmRejects(bad, message, name, "off");
  });
});

describe("metadata, which only the host reads (the wasm loader has no use for it)", () => {
  const metaAt = u32(GOOD, HEADER.meta);
  /** Replaces the metadata with `text`, padded with spaces to its length. */
  const writeMeta = (v: DataView, text: string) => {
    for (let k = 0; k < u32(GOOD, HEADER.metaBytes); k++) v.setUint8(metaAt + k, k < text.length ? text.charCodeAt(k) : 32);
  };
  it.each([
    ["metadata past the end", (v: DataView) => v.setUint32(HEADER.meta, fileLength, true)],
    ["metadata longer than the file", (v: DataView) => v.setUint32(HEADER.metaBytes, U32_MAX, true)],
    ["metadata inside the header", (v: DataView) => v.setUint32(HEADER.meta, 8, true)],
    ["metadata that is not JSON", (v: DataView) => v.setUint8(metaAt, "x".charCodeAt(0))],
    // "null" followed by spaces: valid JSON, but not an object
    ["metadata that is JSON null", (v: DataView) => writeMeta(v, "null")],
    ["metadata that is a JSON array", (v: DataView) => writeMeta(v, "[1]")],
  ] as [string, (v: DataView) => void][])("decodePlsm rejects %s", (name, edit) => {
    decodeRejects(rewritten(edit), /metadata/, name);
  });

  // before: read as JSON.parse's last of the two, a time unit or a sensor declaration other than the one written first.
  // The names a reader takes from the metadata's top level only, as phasor-wasi checks them (test/wasi-command.test.ts):
  // inside a sensor declaration the names are the gateway's to check (test/gateway-takes-its-sensors-from-the-plsm.test.ts)
  it.each([
    ["timeUnit", '{"timeUnit": "ms", "timeUnit": "s"}'],
    ["labels", '{"labels": ["a", "b"], "timeUnit": "ms", "labels": ["b", "a"]}'],
    ["sensors", '{"sensors": [], "timeUnit": "ms", "sensors": [{"name": "x"}]}'],
  ])("decodePlsm rejects metadata that gives %s twice", (name, text) => {
    expect(text.length).toBeLessThanOrEqual(u32(GOOD, HEADER.metaBytes));
    const e = rejection(() => decodePlsm(rewritten((v) => writeMeta(v, text)), "bad.plsm"), "bad-model", text);
    expect(e.message).toBe(`bad.plsm: metadata gives "${name}" twice: JSON would keep only the last`);
  });
  it("decodePlsm takes metadata that gives a name no reader takes twice, or one inside a sensor declaration", () => {
    for (const text of ['{"timeUnit": "ms", "note": 1, "note": 2}', '{"timeUnit": "ms", "sensors": [{"name": "a", "name": "b"}]}']) {
      expect(decodePlsm(rewritten((v) => writeMeta(v, text)), "ok.plsm").meta.timeUnit, text).toBe("ms");
    }
  });
  it("decodePlsm rejects metadata nested deeper than phasor-wasi reads, and the writers write none", () => {
    // 1 object and 511 arrays are read; one more array is not (assembly/wasi/json.ts recurses)
    const nest = (arrays: number) => `{"timeUnit":"ms","x":${"[".repeat(arrays)}${"]".repeat(arrays)}}`;
    const plain = decodePlsm(GOOD, "good.plsm");
    expect(decodePlsm(withMetadata(plain, { ...plain.meta, x: JSON.parse(nest(511)).x }), "ok.plsm").meta.x).toBeDefined();
    expect(rejection(() => withMetadata(plain, { ...plain.meta, x: JSON.parse(nest(512)).x }), "bad-model").message).toBe(
      "a .plsm's metadata would nest arrays and objects more than 512 deep, which phasor-wasi does not read",
    );
    // as a writer other than ours might write it
    const e = rejection(() => decodePlsm(withMetadataText(plain, nest(512)), "deep.plsm"), "bad-model", "deep");
    expect(e.message).toBe("deep.plsm: metadata nests arrays and objects more than 512 deep, which phasor-wasi does not read");
  });
});

describe("a float image (kind 2, what the float engine runs)", () => {
  // found by the fuzzing of test/readers-refuse-cleanly-or-agree-under-fuzzing.test.ts: decodePlsm compared the
  // padding with === 0, which -0 passes, while the wasm loader compares its bits
  it("with -0 in a row's padding is refused by both readers alike", async () => {
    const good = encodePlsm(MODEL);
    const W = u32(good, LAYER_DESC(0) + DESC.W);
    const bad = rewritten((v) => v.setFloat32(W + 4 * 2, -0, true), good); // layer 0, row 0, column 2 of 2
    decodeRejects(bad, /padding/, "-0 padding");
    const loaded: LoadedModel = { format: "plsm", model: MODEL, plsm: { kind: 2, model: MODEL, bytes: bad, meta: {} }, source: "bad.plsm" };
    const e = await asyncRejection(() => createEngine(loaded, { engine: "float" }), "bad-model", "wasm loader, -0 padding");
    expect(e.message).toMatch(/^bad\.plsm: .*padding/);
  });
});
