/**
 * The fixed engine's tanh table (assembly/fixed/tanh-table.ts) is exactly what tools/build/gen-tables.mjs writes, and
 * that table is tanh in Q0.15 within the rounding the activation's error bound assumes (docs/fixed-point.md); the
 * microcontroller build, which computes the table at init instead of storing it, computes the same entries (and
 * test/same-bits-everywhere.test.ts runs it against the library's builds).
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain JavaScript build script without type declarations
import { TANH_ENTRIES, TANH_STEPS_PER_UNIT, tanhTable, tanhTableByRecurrence } from "../tools/build/gen-tables.mjs";

describe("the tanh table", () => {
  it("is committed exactly as the generator writes it", () => {
    const check = spawnSync(process.execPath, ["tools/build/gen-tables.mjs", "--check"], { encoding: "utf8" });
    expect(check.stderr).toBe("");
    expect(check.status).toBe(0);
  });

  it("holds tanh(i / 128) in Q0.15 to within half a unit, over [0, 8]", () => {
    const table: number[] = tanhTable();
    expect(table).toHaveLength(TANH_ENTRIES);
    expect(TANH_ENTRIES).toBe(8 * TANH_STEPS_PER_UNIT + 1);
    for (let i = 0; i < table.length; i++) {
      const exact = Math.tanh(i / TANH_STEPS_PER_UNIT) * 32768;
      expect(Math.abs(table[i] - Math.min(exact, 32767))).toBeLessThanOrEqual(0.5);
    }
  });

  it("is what the microcontroller build computes at init, in the same float64 operations, entry for entry", () => {
    const table: number[] = tanhTable();
    expect(tanhTableByRecurrence(TANH_ENTRIES)).toEqual(table);
  });
});
