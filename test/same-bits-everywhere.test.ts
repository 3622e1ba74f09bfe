/**
 * Each quantized model and its event streams (test/support/same-bits.ts: several layers, epoch-millisecond times,
 * several sequences) give the same bits on every runtime and build (plstm.md section 3):
 * the library's fixed engine (SIMD and scalar builds), the WASI command under node:wasi and on the wasmtime
 * engine (SIMD and scalar builds each), and the microcontroller build driven from node. The four WASI runs print
 * the same bytes; every y and h they print reads back as exactly the library's double.
 */
import "../host/node.js";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mcuInstance, mcuLoad, mcuRun } from "./support/mcu.js";
import { firstBitDifference, libraryRun, sameBitsFixtures } from "./support/same-bits.js";
import { requireWasmtime, runNodeWasi, runWasmtime, scratchDirectory, type WasiBuild, type WasiRun } from "./support/wasi.js";

function parsed(run: WasiRun): { y: number[]; h: number[] } {
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  const y: number[] = [];
  const h: number[] = [];
  for (const line of run.stdout.toString("utf8").trimEnd().split("\n")) {
    const record = JSON.parse(line) as { y: number[]; h: number[] };
    y.push(...record.y);
    h.push(...record.h);
  }
  return { y, h };
}

describe.each(sameBitsFixtures().map((f) => [f.name, f] as const))("one model, one event stream, the same bits on every runtime: %s", (_, f) => {
  let dir = "";
  beforeAll(() => {
    dir = scratchDirectory();
    writeFileSync(join(dir, "m.plsm"), f.image);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the library's SIMD and scalar builds, the WASI builds under node:wasi and wasmtime, and the MCU build agree", async () => {
    const library = await libraryRun(f, "on");
    const scalar = await libraryRun(f, "off");
    expect(firstBitDifference(scalar.y, library.y)).toBe(-1);
    expect(firstBitDifference(scalar.h, library.h)).toBe(-1);

    requireWasmtime();
    const args = ["--model", "m.plsm", "--hidden"];
    const runs: [string, WasiRun][] = [];
    for (const build of ["simd", "scalar"] as WasiBuild[]) {
      runs.push([`node:wasi ${build}`, await runNodeWasi(build, args, f.ndjson, dir)]);
      runs.push([`wasmtime ${build}`, runWasmtime(build, args, f.ndjson, dir)]);
    }
    const [first, reference] = runs[0];
    for (const [name, run] of runs) {
      expect(run.stderr, name).toBe("");
      expect(run.status, name).toBe(0);
      expect(run.stdout.equals(reference.stdout), `${name} prints the bytes ${first} prints`).toBe(true);
    }
    const printed = parsed(reference);
    expect(printed.y).toHaveLength(f.t.length * f.outputSize);
    expect(firstBitDifference(printed.y, library.y)).toBe(-1);
    expect(firstBitDifference(printed.h, library.h)).toBe(-1);

    const mcu = await mcuInstance();
    expect(mcuLoad(mcu, f.image)).toBe(0);
    expect(firstBitDifference(mcuRun(mcu, f.t, f.x, f.inputSize, f.outputSize, f.starts), library.y)).toBe(-1);
  });
});
