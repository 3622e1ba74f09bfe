/**
 * The unit arithmetic brings each gate row's sum to Q7.24 with one of three forms of shiftRound (assembly/fixed/step.ts,
 * toQ24; the proofs in assembly/fixed/arith.ts), chosen per layer at load (assembly/model.ts, checkUnits): the fast
 * form where every shift s is in 1..32, the wide one where every s is in -21..32 and the layer's row sums are within
 * 2^39 (int8 rows, whose s reach 0 and below), the checked one otherwise. Here:
 * - the fast and wide forms, compiled from their source, equal shiftRound computed in BigInt from its definition at
 *   the edges of their ranges, at rounding ties and at the bound of the sums; just outside they differ from it, so
 *   the bounds are needed;
 * - layers whose row formats put s at the edges of the wide range take the wide form in the builds that have it, and
 *   give the bits of the same layers on the checked form; layers just outside take the checked form. Which form ran
 *   is read from the operators each function executed, as `phasor bench --operators` counts them. So the shifts
 *   the library builds store in place of a fast or wide layer's row formats at load (assembly/fixed/step.ts,
 *   storeRowShifts) are checked at the ends of both ranges, on rows whose sums reach their bounds, and so are the
 *   peepholes' shifts at the ends of what their formats allow on those forms (1 and 26).
 */
import "../host/node.js";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import { countPushOperators, functionNames } from "../host/engine/operators.js";
import type { FloatModel } from "../host/model/model.js";
import { INT8_LIMIT, ROW_L1_LIMIT, encodePlsm } from "../host/model/plsm.js";
import { planFormats, type WeightWidth } from "../host/model/quantize.js";
import { compileEntry } from "./support/compile-entry.js";
import { expectSameBytes } from "./support/engines.js";
import { MCU_FILE, MCU_INT8_FILE, MCU_INT8_PAGE_FILE, mcuInstance, mcuLoad, mcuRun } from "./support/mcu.js";
import { Rng, randomModel } from "./support/random.js";

interface Forms {
  fast(v: bigint, s: number): bigint;
  wide(v: bigint, s: number): bigint;
  checked(v: bigint, s: number): bigint;
  wideShift(): number;
}

// The forms as the engine inlines them, from their own source file.
const ENTRY = `
import { WIDE_SHIFT, shiftRound, shiftRoundFast, shiftRoundWide } from "./assembly/fixed/arith";
export function fast(v: i64, s: i32): i64 { return shiftRoundFast(v, <i64>(s - 1)); }
export function wide(v: i64, s: i32): i64 { return shiftRoundWide(v, <i64>(s - 1 + WIDE_SHIFT)); }
export function checked(v: i64, s: i32): i64 { return shiftRound(v, s); }
export function wideShift(): i32 { return WIDE_SHIFT; }
`;

const SATURATION = 1n << 60n;

/** shiftRound's definition (docs/fixed-point.md): v 2^-s rounded half up for s > 0, exact for s <= 0 but saturated
 * at +-2^60. */
function shiftRoundOf(v: bigint, s: number): bigint {
  if (s > 0) return (2n * v + (1n << BigInt(s))) >> BigInt(s + 1); // floor(v 2^-s + 1/2)
  const exact = v << BigInt(-s);
  return exact > SATURATION ? SATURATION : exact < -SATURATION ? -SATURATION : exact;
}

/** Sums that test a shift s: small ones, the ties of its rounding and their neighbours, the largest below `bound`,
 * and seeded random ones below it, each with both signs. */
function sumsFor(s: number, bound: bigint, rng: Rng): bigint[] {
  const sums = [0n, 1n, 2n, 3n, 5n, bound - 1n, bound - 2n, bound / 2n + 1n];
  if (s >= 1) {
    const half = 1n << BigInt(s - 1);
    for (const tie of [half, 3n * half, 5n * half]) if (tie + 1n < bound) sums.push(tie - 1n, tie, tie + 1n);
  }
  for (let k = 0; k < 40; k++) sums.push(BigInt(Math.floor(rng.uniform(0, 1) * 2 ** 30)) * BigInt(Math.floor(rng.uniform(0, 1) * 2 ** 30)) % bound);
  return sums.flatMap((v) => [v, -v]);
}

describe("the forms of shiftRound", () => {
  let forms: Forms;
  beforeAll(async () => {
    forms = await compileEntry<Forms>("rounding-forms", ENTRY);
  });

  it("the wide form is shiftRound for every s in -21..32 and every sum below 2^39, ties and bounds included", () => {
    expect(forms.wideShift()).toBe(22);
    const rng = new Rng(61);
    let checked = 0;
    for (let s = -21; s <= 32; s++) {
      for (const v of sumsFor(s, 1n << 39n, rng)) {
        const want = shiftRoundOf(v, s);
        expect(forms.wide(v, s), `wide form, v = ${v}, s = ${s}`).toBe(want);
        expect(forms.checked(v, s), `shiftRound itself, v = ${v}, s = ${s}`).toBe(want);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(54 * 100);
  });

  it("the fast form is shiftRound for every s in 1..32, for sums far beyond the wide form's", () => {
    const rng = new Rng(62);
    for (let s = 1; s <= 32; s++) {
      for (const v of sumsFor(s, 1n << 61n, rng)) expect(forms.fast(v, s), `fast form, v = ${v}, s = ${s}`).toBe(shiftRoundOf(v, s));
    }
  });

  it("just outside its bounds the wide form is not shiftRound: s = -22, or a sum of 2^39 + 1 at s = -21", () => {
    expect(shiftRoundOf(1n, -22)).toBe(1n << 22n);
    expect(forms.wide(1n, -22)).not.toBe(1n << 22n);
    const beyond = (1n << 39n) + 1n;
    expect(shiftRoundOf(beyond, -21)).toBe(SATURATION);
    expect(forms.wide(beyond, -21)).not.toBe(SATURATION);
    // and below 1 the fast form is not shiftRound either
    expect(forms.fast(5n, 0)).not.toBe(5n);
  });
});

const INPUTS = 3;
const OUTPUTS = 2;

interface Layout {
  width: WeightWidth;
  hidden: number;
  inputFrac: number;
  /** the shifts of the W rows and of the U rows, given to rows in turn (row r = gate * H + unit) */
  wShifts: number[];
  uShifts: number[];
  /** a row of U whose weights are all 0 (gate o of unit 0) and the shift its format gives it */
  zeroUShift: number;
  /** the peepholes' format, when not the one the quantizer plans: their shift is pFrac + 20 - 24 */
  pFrac?: number;
}

/**
 * A one-layer fixed model with the row formats of `layout`: W row r in Q(wFrac) with wFrac + inputFrac - 24 =
 * wShifts[r mod], U row r in Q(uFrac) with uFrac - 9 = uShifts[r mod]. The weights are exact in their formats: in
 * every other row as large as the bounds allow (a W row's sum of |w_q| at 65538 for int16, every weight at +-127 for
 * int8; U weights at the width's limit or, for int16, at what the lane-chunk bound of contract/plsm.ts allows), in
 * the others -2..2, so that the sums reach their bounds and also stay small enough for gates away from saturation.
 */
function layeredImage(layout: Layout, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const H = layout.hidden;
  const model: FloatModel = randomModel(rng, { inputSize: INPUTS, hidden: [H], peephole: true, rOn: 1, outputs: OUTPUTS, mode: "every" });
  const plan = planFormats(model, 1, "layered", layout.width);
  plan.inputFrac = layout.inputFrac;
  if (layout.pFrac !== undefined) plan.layers[0].pFrac = layout.pFrac;
  const L = model.layers[0];
  const lp = plan.layers[0];
  const limit = layout.width === "int8" ? INT8_LIMIT : 32767;
  // a lane-chunk holds 2 of every 8 columns of a 128-column chunk
  const uBig = Math.min(limit, Math.floor(ROW_L1_LIMIT / (Math.min(8 * Math.ceil(H / 8), 128) / 4)));
  const sign = () => (rng.uniform(-1, 1) < 0 ? -1 : 1);
  const small = () => Math.round(rng.uniform(-2, 2));
  for (let r = 0; r < 4 * H; r++) {
    lp.wFrac[r] = layout.wShifts[r % layout.wShifts.length] + 24 - layout.inputFrac;
    lp.uFrac[r] = layout.uShifts[r % layout.uShifts.length] + 9;
    const big = r % 2 === 0;
    const wq = big ? (layout.width === "int8" ? [limit, limit, limit] : [32767, 32767, 4]) : [0, 0, 0];
    for (let i = 0; i < INPUTS; i++) L.W[r * INPUTS + i] = (big ? sign() * wq[i] : small()) * 2 ** -lp.wFrac[r];
    for (let c = 0; c < H; c++) L.U[r * H + c] = (big ? sign() * uBig : small()) * 2 ** -lp.uFrac[r];
  }
  const zeroRow = 3 * H; // gate o of unit 0
  lp.uFrac[zeroRow] = layout.zeroUShift + 9;
  L.U.fill(0, zeroRow * H, zeroRow * H + H);
  return encodePlsm(model, plan);
}

/** Events 1 ms apart whose inputs range from 0 to far beyond the input format's saturation, with both signs, so that
 * the W x sums run from 0 to their bounds. */
function events(n: number, seed: number): { t: Float64Array; x: Float32Array } {
  const rng = new Rng(seed);
  const t = Float64Array.from({ length: n }, (_, e) => e);
  const x = Float32Array.from({ length: n * INPUTS }, () => (rng.uniform(-1, 1) < 0 ? -1 : 1) * 10 ** rng.uniform(-9, 4));
  return { t, x };
}

type Form = "Fast" | "Wide" | "Checked";
type Build = "simd" | "scalar" | "mcu" | "mcu-int8" | "mcu-int8-page";
const MCU_FILES: Partial<Record<Build, string>> = { mcu: MCU_FILE, "mcu-int8": MCU_INT8_FILE, "mcu-int8-page": MCU_INT8_PAGE_FILE };

/** Which update functions of the build ran, by the operators they executed. */
async function formsRun(build: Build, image: Uint8Array, ev: { t: Float64Array; x: Float32Array }): Promise<Form[]> {
  const names = functionNames(readFileSync(`build/phasor-${build}.wat`, "utf8"));
  const count = await countPushOperators(readFileSync(`build/phasor-${build}.wasm`), image, ev.t, ev.x, INPUTS);
  const ran: Form[] = [];
  for (const form of ["Fast", "Wide", "Checked"] as const) {
    const f = names.indexOf(`$assembly/fixed/step/updateUnits${form}`);
    if (f >= 0 && (count.byFunction.get(f) ?? 0) > 0) ran.push(form);
  }
  return ran;
}

/** Every event's h and c (library builds) or y (microcontroller builds), as raw bytes. */
async function run(build: Build, image: Uint8Array, ev: { t: Float64Array; x: Float32Array }): Promise<Float64Array> {
  const file = MCU_FILES[build];
  if (file) {
    const mcu = await mcuInstance(file);
    expect(mcuLoad(mcu, image), "init").toBe(0);
    return mcuRun(mcu, ev.t, ev.x, INPUTS, OUTPUTS, new Set([0]));
  }
  const engine = await createEngine(loadModelBytes(image, "layered.plsm"), { engine: "fixed", simd: build === "simd" ? "on" : "off" });
  const stream = engine.createStream();
  const H = stream.hidden(0).length;
  const out = new Float64Array(ev.t.length * (2 * H + OUTPUTS));
  for (let e = 0; e < ev.t.length; e++) {
    stream.push(ev.t[e], ev.x.subarray(e * INPUTS, (e + 1) * INPUTS));
    out.set(stream.hidden(0), e * (2 * H + OUTPUTS));
    out.set(stream.cell(0), e * (2 * H + OUTPUTS) + H);
    out.set(stream.output(), e * (2 * H + OUTPUTS) + 2 * H);
  }
  engine.dispose();
  return out;
}

interface Case {
  name: string;
  layout: Layout;
  /** the form each build takes */
  expected: Partial<Record<Build, Form>>;
}

// Layer 0's W shifts are wFrac + inputFrac - 24 with wFrac in -16..30: inputFrac 12 reaches s = -21 and -22,
// inputFrac 26 reaches s = 32, 27 reaches 33. A U row's shift is uFrac - 9, in -25..21.
const LOW: Omit<Layout, "width"> = { hidden: 8, inputFrac: 12, wShifts: [-21, -20, -1, 0, 1, 2, 17], uShifts: [-21, -5, 0, 1, 21], zeroUShift: 0 };
const HIGH: Omit<Layout, "width"> = { hidden: 8, inputFrac: 26, wShifts: [32, 31, 1, 0, -14], uShifts: [-21, 0, 1, 21], zeroUShift: 0 };

const CASES: Case[] = [
  { name: "int8, W and U shifts down to -21", layout: { width: "int8", ...LOW }, expected: { simd: "Wide", scalar: "Wide", "mcu-int8": "Wide", "mcu-int8-page": "Wide" } },
  { name: "int8, W shifts up to 32", layout: { width: "int8", ...HIGH }, expected: { simd: "Wide", scalar: "Wide", "mcu-int8": "Wide", "mcu-int8-page": "Wide" } },
  { name: "int8, a W shift of -22", layout: { width: "int8", ...LOW, wShifts: [-22, ...LOW.wShifts] }, expected: { simd: "Checked", scalar: "Checked", "mcu-int8": "Checked", "mcu-int8-page": "Checked" } },
  { name: "int8, a U shift of -22", layout: { width: "int8", ...LOW, zeroUShift: -22 }, expected: { simd: "Checked", scalar: "Checked", "mcu-int8": "Checked", "mcu-int8-page": "Checked" } },
  { name: "int8, a W shift of 33", layout: { width: "int8", ...HIGH, inputFrac: 27, wShifts: [33, 31, 1, 0, -13] }, expected: { simd: "Checked", scalar: "Checked", "mcu-int8": "Checked", "mcu-int8-page": "Checked" } },
  { name: "int8, every shift in 1..32", layout: { width: "int8", ...HIGH, wShifts: [32, 1], uShifts: [1, 21], zeroUShift: 1 }, expected: { simd: "Fast", scalar: "Fast", "mcu-int8": "Wide", "mcu-int8-page": "Wide" } },
  { name: "int16, every shift in 1..32", layout: { width: "int16", ...HIGH, wShifts: [32, 1], uShifts: [21, 1], zeroUShift: 1 }, expected: { simd: "Fast", scalar: "Fast", mcu: "Fast" } },
  // the peepholes' shift at the ends of 1..32 that the fast and wide forms take (their largest format gives 26)
  { name: "int16, peepholes shifted by 1", layout: { width: "int16", ...HIGH, wShifts: [32, 1], uShifts: [21, 1], zeroUShift: 1, pFrac: 5 }, expected: { simd: "Fast", scalar: "Fast", mcu: "Fast" } },
  { name: "int16, peepholes shifted by 26", layout: { width: "int16", ...HIGH, wShifts: [32, 1], uShifts: [21, 1], zeroUShift: 1, pFrac: 30 }, expected: { simd: "Fast", scalar: "Fast", mcu: "Fast" } },
  { name: "int8, peepholes shifted by 1", layout: { width: "int8", ...LOW, pFrac: 5 }, expected: { simd: "Wide", scalar: "Wide", "mcu-int8": "Wide", "mcu-int8-page": "Wide" } },
  // the int16 microcontroller build has no wide form: its layers take the checked one
  { name: "int16, W and U shifts down to -21", layout: { width: "int16", ...LOW }, expected: { simd: "Wide", scalar: "Wide", mcu: "Checked" } },
  { name: "int16, W shifts up to 32", layout: { width: "int16", ...HIGH }, expected: { simd: "Wide", scalar: "Wide", mcu: "Checked" } },
  { name: "int16, a W shift of -22", layout: { width: "int16", ...LOW, wShifts: [-22, ...LOW.wShifts] }, expected: { simd: "Checked", scalar: "Checked", mcu: "Checked" } },
];

describe.each(CASES)("a layer with $name", ({ layout, expected }) => {
  const image = layeredImage(layout, 2026);
  const ev = events(400, 7);

  it.each(Object.entries(expected) as [Build, Form][])("takes the documented form in build/phasor-%s.wasm", async (build, form) => {
    expect(await formsRun(build, image, ev)).toEqual([form]);
  });

  it("gives every build the bits of the checked form", async () => {
    // the same layer with the zero U row's format moved out of the wide range: the checked form, the same sums
    const checkedImage = layeredImage({ ...layout, zeroUShift: -22 }, 2026);
    expect(await formsRun("scalar", checkedImage, ev)).toEqual(["Checked"]);
    const onChecked = await run("scalar", checkedImage, ev);
    for (const build of ["simd", "scalar"] as const) expectSameBytes(await run(build, image, ev), onChecked, `${build} against the checked form`);
    const library = onChecked.filter((_, k) => k % (2 * layout.hidden + OUTPUTS) >= 2 * layout.hidden);
    for (const mcu of layout.width === "int8" ? (["mcu-int8", "mcu-int8-page"] as const) : (["mcu"] as const)) {
      expectSameBytes(await run(mcu, image, ev), await run(mcu, checkedImage, ev), `${mcu} against the checked form`);
      expectSameBytes(await run(mcu, image, ev), library, `${mcu} against the library's outputs`);
    }
  });
});

describe("the row sums' bound of the wide form", () => {
  // an int16 U h is held within 2^39 where hiddenPad <= 512: 512 x 32767^2 < 2^39 (assembly/model.ts)
  for (const [hidden, form] of [
    [512, "Wide"],
    [513, "Checked"],
  ] as const) {
    it(`an int16 layer of ${hidden} units with W shifts down to 0 takes the ${form.toLowerCase()} form`, async () => {
      const image = layeredImage({ width: "int16", hidden, inputFrac: 12, wShifts: [0, 1], uShifts: [1], zeroUShift: 1 }, 5);
      const ev = events(2, 8);
      for (const build of ["simd", "scalar"] as const) expect(await formsRun(build, image, ev), build).toEqual([form]);
    });
  }
});
