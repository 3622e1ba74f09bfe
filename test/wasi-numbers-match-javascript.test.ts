/**
 * The WASI command reads and prints numbers exactly as JavaScript does (docs/wasi.md): its decimal reader
 * (assembly/wasi/decimal.ts) gives Number(text) for every JSON number, correctly rounded, ties to even; its
 * printer (assembly/wasi/shortest.ts) gives String(value). Both run here as compiled wasm, built from the same
 * sources the command is built from, against millions of doubles: random bit patterns over the whole range,
 * powers of two and their neighbours, subnormals, exact halfway points, long and short digit strings.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { compileEntry } from "./support/compile-entry.js";
import { Rng } from "./support/random.js";

interface Numbers {
  memory: WebAssembly.Memory;
  buffer(): number;
  parse(length: number): number;
  parsedEnd(): number;
  format(value: number): number;
}

const BUFFER_BYTES = 1 << 15;
// A test entry over the command's own modules: text in a buffer, a double out, and back.
const ENTRY = `
import { numberEnd, parseNumber } from "./assembly/wasi/decimal";
import { formatNumber } from "./assembly/wasi/shortest";
const text = memory.data(${BUFFER_BYTES}, 16);
export function buffer(): usize { return text; }
export function parse(length: i32): f64 { return parseNumber(text, text + <usize>length); }
export function parsedEnd(): i32 { return <i32>(numberEnd - text); }
export function format(value: f64): i32 { return formatNumber(value, text); }
`;

describe("numbers in the WASI command", () => {
  let wasm: Numbers;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  beforeAll(async () => {
    wasm = await compileEntry<Numbers>("wasi-numbers", ENTRY);
  });

  function parse(text: string): { value: number; end: number } {
    const bytes = encoder.encode(text);
    new Uint8Array(wasm.memory.buffer, wasm.buffer(), bytes.length).set(bytes);
    const value = wasm.parse(bytes.length);
    return { value, end: wasm.parsedEnd() };
  }
  function format(value: number): string {
    const n = wasm.format(value);
    return decoder.decode(new Uint8Array(wasm.memory.buffer, wasm.buffer(), n));
  }

  /** Each text must read as Number(text) does; returns the first that does not, for the message. */
  function firstMisread(texts: Iterable<string>): string | undefined {
    for (const text of texts) {
      const { value, end } = parse(text);
      if (!Object.is(value, Number(text)) || end !== encoder.encode(text).length) return `${text}: ${value} (Number: ${Number(text)})`;
    }
    return undefined;
  }
  /** Each double must print as String(value) does. */
  function firstMisprint(values: Iterable<number>): string | undefined {
    for (const value of values) {
      const text = format(value);
      if (text !== String(value)) return `${String(value)} printed as ${text}`;
    }
    return undefined;
  }

  const bits = new BigUint64Array(1);
  const double = new Float64Array(bits.buffer);
  function* randomDoubles(seed: number, count: number): Generator<number> {
    const rng = new Rng(seed);
    for (let i = 0; i < count; ) {
      bits[0] = (BigInt(Math.floor(rng.next() * 2 ** 32)) << 32n) | BigInt(Math.floor(rng.next() * 2 ** 32));
      if (Number.isFinite(double[0])) {
        i++;
        yield double[0];
      }
    }
  }

  it("prints and reads back random doubles of every exponent and sign", () => {
    const values = [...randomDoubles(1, 300_000)];
    expect(firstMisprint(values)).toBeUndefined();
    expect(firstMisread(values.map(String))).toBeUndefined();
    expect(firstMisread(values.map((v) => v.toPrecision(17).replace("e+", "e")))).toBeUndefined();
    expect(firstMisread(values.map((v) => v.toExponential(25).replace("e+", "e")))).toBeUndefined();
  });

  it("prints and reads powers of two, their neighbours and the subnormals", () => {
    const values: number[] = [];
    for (let e = -1074; e <= 1023; e++) {
      double[0] = 2 ** e;
      const center = bits[0];
      for (const d of [-2n, -1n, 0n, 1n, 2n]) {
        bits[0] = center + d;
        if (Number.isFinite(double[0]) && double[0] > 0) values.push(double[0], -double[0]);
      }
    }
    const rng = new Rng(2);
    for (let i = 0; i < 50_000; i++) {
      bits[0] = BigInt(Math.floor(rng.next() * 2 ** 52)); // subnormal
      values.push(double[0]);
    }
    values.push(0, -0, Number.MIN_VALUE, Number.MAX_VALUE, Number.EPSILON, 2 ** 53, 2 ** 53 + 2, 0.1, 0.2, 0.3, 0.1 + 0.2, 1e21, 1e-7, 123e-20, 1e20, 5e-324);
    expect(firstMisprint(values)).toBeUndefined();
    expect(firstMisread(values.map(String))).toBeUndefined();
  });

  it("prints values of everyday size like JavaScript: integers, short decimals, f32 values, epoch milliseconds", () => {
    const rng = new Rng(3);
    const values: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      values.push(Math.floor(rng.next() * 2 ** 53), Math.round(rng.uniform(-1e6, 1e6)) / 1e3, Math.fround(rng.uniform(-1, 1)));
      values.push(1.7e12 + rng.uniform(0, 1e10), rng.uniform(-1, 1) / 32768, Math.round(rng.uniform(-32768, 32768)) / 32768);
    }
    expect(firstMisprint(values)).toBeUndefined();
  });

  it("reads random digit strings of 1 to 40 digits with exponents over the whole range", () => {
    const rng = new Rng(4);
    const texts: string[] = [];
    for (let i = 0; i < 300_000; i++) {
      const digits = 1 + Math.floor(rng.next() * 40);
      let s = String(1 + Math.floor(rng.next() * 9));
      for (let k = 1; k < digits; k++) s += Math.floor(rng.next() * 10);
      const exponent = Math.floor(rng.next() * 700) - 350;
      const point = Math.floor(rng.next() * digits);
      const mantissa = point === 0 ? s : `${s.slice(0, point)}.${s.slice(point)}`;
      texts.push(`${rng.next() < 0.5 ? "-" : ""}${mantissa}e${exponent}`, `${mantissa}E+${Math.abs(exponent % 30)}`, `0.${"0".repeat(digits)}${s}`);
    }
    expect(firstMisread(texts)).toBeUndefined();
  });

  it("reads the exact halfway points between neighbouring doubles, and a digit either side, correctly", () => {
    const rng = new Rng(5);
    const texts: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      bits[0] = ((BigInt(Math.floor(rng.next() * 2 ** 31)) << 32n) | BigInt(Math.floor(rng.next() * 2 ** 32))) & 0x7fefffffffffffffn;
      const field = Number(bits[0] >> 52n);
      const m = (bits[0] & ((1n << 52n) - 1n)) | (field === 0 ? 0n : 1n << 52n);
      const q = field === 0 ? -1074 : field - 1075;
      // (2m + 1) * 2^(q - 1), written out in full: up to 767 significant digits
      const odd = 2n * m + 1n;
      const p = q - 1;
      const exact = p >= 0 ? (odd << BigInt(p)).toString() : `${(odd * 5n ** BigInt(-p)).toString()}e${p}`;
      texts.push(exact);
      const [digits, exponent = "0"] = exact.split("e");
      const last = BigInt(digits);
      texts.push(`${last - 1n}e${exponent}`, `${last + 1n}e${exponent}`, `${digits}00000000001e${Number(exponent) - 11}`);
    }
    expect(firstMisread(texts)).toBeUndefined();
  });

  it("reads the edges: overflow to infinity, underflow to zero, long digit strings, huge exponents", () => {
    const texts = [
      "0", "-0", "0.0", "0e5", "-0.000e-99", "1", "-1", "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
      "2.2250738585072011e-308", "2.2250738585072014e-308", "1.7976931348623157e308", "1.7976931348623158e308",
      "1.7976931348623159e308", "1e309", "-1e309", "1e-400", "1e999999999999", "1e-999999999999", "9007199254740993",
      "9007199254740992.5", "123456789012345678901234567890", "1e23", "8.98846567431158e307", `0.${"0".repeat(400)}1`,
      `1${"0".repeat(400)}`, `${"9".repeat(1000)}e-1000`, `0.${"1".repeat(2000)}`, "1.00000000000000011102230246251565404236316680908203125",
      "1.00000000000000011102230246251565404236316680908203124", "1.00000000000000011102230246251565404236316680908203126",
      `2.47032822920623272088284396434110686182529901307162382212792841250337753635104375932649918180817996189898282347722858865463328355177969898199387398005390939063150356595155702263922908583924491051844359318028499365361525003193704576782492193656236698636584807570015857692699037063119282795585513329278343384093519780155312465972635795746227664652728272200563740064854999770965994704540208281662262378573934507363390079677619305775067401763246736009689513405355374585166611342237666786041621596804619144672918403005300575308490487653917113865916462395249126236538818796362393732804238910186723484976682350898633885879256283027559956575244555072551893136908362547791869486679949683240497058210285131854513962138377228261454376934125320985913276672363281255e-324`,
    ];
    expect(firstMisread(texts)).toBeUndefined();
  });

  it("refuses what JSON does not call a number, and stops where the number ends", () => {
    for (const text of ["", "-", "+1", "01", "-01", "1.", ".5", "1e", "1e+", "1.e5", "--1", "Infinity", "NaN", "0x10"]) {
      const { value, end } = parse(text);
      // a refusal is NaN; a valid prefix ("0" of "01", "1" of "1.") ends before the rest
      const prefix = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text)?.[0];
      if (Number.isNaN(value)) continue;
      expect(prefix, `"${text}" read as ${value}`).toBeDefined();
      expect(end).toBe(prefix!.length);
      expect(end).toBeLessThan(text.length);
    }
    expect(parse("1.5]").end).toBe(3);
    expect(parse("-2e3,").value).toBe(-2000);
  });
});
