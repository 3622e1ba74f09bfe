/**
 * The C host prints every double as JavaScript's String(number) does (host/c/js_number.c): shortest round trip,
 * nearest on a choice, the same switch to exponent notation. Checked against node on seeded random bit patterns
 * of every exponent, on every power of two (where the interval of doubles that read back is lopsided), and on
 * the edges of the notations and of the range.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { C_FLAGS, C_HOST_DIR } from "./support/c-host.js";
import { Rng } from "./support/random.js";

const dir = mkdtempSync(join(tmpdir(), "phasor-c-numbers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bitsOf(value: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  return view.getBigUint64(0).toString(16).padStart(16, "0");
}

function valueOf(bits: bigint): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, bits);
  return view.getFloat64(0);
}

function cases(): number[] {
  const values: number[] = [0, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, 2.2250738585072014e-308, 2.225073858507201e-308];
  for (let e = -1074; e <= 1023; e++) values.push(2 ** e, -(2 ** e), 2 ** e * (1 + 2 ** -52), 2 ** e * (2 - 2 ** -52));
  for (const edge of [1e21, 1e-7, 1e-6, 123456789012345680000, 0.000001, 1.5e-7, 9.999999999999999e20, 5e-324, 1e23, 9007199254740993]) {
    values.push(edge, -edge, valueOf(BigInt(`0x${bitsOf(edge)}`) + 1n), valueOf(BigInt(`0x${bitsOf(edge)}`) - 1n));
  }
  for (let k = 0; k <= 1000; k++) values.push(k / 10, k * 0.1, k / 7, 1 / (k + 1), k * 1e15, k + 0.5);
  const rng = new Rng(2026);
  for (let k = 0; k < 60_000; k++) {
    const bits = (BigInt(Math.floor(rng.next() * 2 ** 32)) << 32n) | BigInt(Math.floor(rng.next() * 2 ** 32));
    values.push(valueOf(bits));
  }
  // values of everyday size, where digits are few
  for (let k = 0; k < 20_000; k++) values.push(Number((rng.uniform(-1, 1) * 10 ** Math.floor(rng.uniform(-8, 8))).toPrecision(1 + Math.floor(rng.next() * 17))));
  return values;
}

describe("host/c/js_number.c", () => {
  it("prints each double exactly as String(number) does", () => {
    const driver = join(dir, "print-numbers");
    const built = spawnSync("gcc", [...C_FLAGS, `-I${C_HOST_DIR}`, "test/support/print-numbers.c", join(C_HOST_DIR, "js_number.c"), "-o", driver, "-lm"], { encoding: "utf8" });
    expect(built.stderr).toBe("");
    expect(built.status).toBe(0);
    const values = cases();
    const printed = spawnSync(driver, [], { input: values.map(bitsOf).join("\n") + "\n", encoding: "utf8", maxBuffer: 1 << 26 });
    expect(printed.status).toBe(0);
    const lines = printed.stdout.split("\n").slice(0, -1);
    expect(lines).toHaveLength(values.length);
    const wrong = values.flatMap((v, k) => (lines[k] === String(v) ? [] : [`${bitsOf(v)}: C ${lines[k]}, JavaScript ${String(v)}`]));
    expect(wrong.slice(0, 5)).toEqual([]);
  });
});
