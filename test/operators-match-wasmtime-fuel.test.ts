/**
 * The operator counts of `phasor bench --operators` (host/engine/operators.ts, in node) are wasmtime's fuel (tools/devices/fuel.py,
 * on the wasmtime wheel), event by event: for the microcontroller build and the library's scalar and SIMD builds,
 * and for hand-written functions whose counts follow from wasmtime's rules (one unit per operator but for nop,
 * drop, block, loop, else, end, return and unreachable, one for entering a function, and one per byte that
 * memory.fill and memory.copy write). The split of an event's count by where it goes adds up to the count.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runOperatorCount } from "../host/bench.js";
import { countPushOperators, countingModule, functionNames, operatorShares, operatorsSoFar } from "../host/engine/operators.js";
import { quantize } from "../host/model/quantize.js";
import { calibrationStreams } from "./support/engines.js";
import { Rng, randomModel, randomStream } from "./support/random.js";

const dir = mkdtempSync(join(tmpdir(), "phasor-fuel-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fuel(module: string, model: string, events: string): number[] {
  const run = spawnSync("python3", ["tools/devices/fuel.py", "--module", module, "--model", model, "--events", events, "--per-event"], { encoding: "utf8" });
  if (run.error || run.status !== 0) throw new Error(`tools/devices/fuel.py failed (is the wasmtime wheel installed?): ${run.stderr}`);
  return JSON.parse(run.stdout).perEvent;
}

describe("operators per event, in node and on wasmtime's fuel", () => {
  const rng = new Rng(1313);
  const model = randomModel(rng, { inputSize: 3, hidden: [16], peephole: true, rOn: 0.3, outputs: 2, mode: "every", alpha: 0 });
  const image = quantize(model, calibrationStreams(14, 3), "fuel").bytes;
  const events = randomStream(rng, { n: 120, inputSize: 3, start: "epoch", maxGap: 20 });
  writeFileSync(join(dir, "m.plsm"), image);
  writeFileSync(join(dir, "e.ndjson"), Array.from(events.t, (t, e) => JSON.stringify({ t, x: Array.from(events.x.subarray(3 * e, 3 * e + 3)) })).join("\n") + "\n");

  const int8Image = quantize(model, calibrationStreams(14, 3), "fuel", "int8").bytes;
  writeFileSync(join(dir, "m8.plsm"), int8Image);

  for (const [build, weights] of [["mcu", "int16"], ["scalar", "int16"], ["simd", "int16"], ["mcu-int8", "int8"], ["scalar", "int8"]]) {
    it(`build/phasor-${build}.wasm, ${weights} weights: the same count for every event`, async () => {
      const module = `build/phasor-${build}.wasm`;
      const file = weights === "int8" ? "m8.plsm" : "m.plsm";
      const counted = await countPushOperators(readFileSync(module), weights === "int8" ? int8Image : image, events.t, events.x, 3);
      const expected = fuel(module, join(dir, file), join(dir, "e.ndjson"));
      expect(counted.perEvent).toHaveLength(events.t.length);
      expect(counted.perEvent).toEqual(expected);
      // some events open no unit and some open several: the counts are not all the same
      expect(new Set(expected).size).toBeGreaterThan(5);
    });
  }

  it("hand-written functions cost what wasmtime's rules say", async () => {
    const wat = `(module
      (memory 1)
      (func $empty)
      (func $id (param i32) (result i32) local.get 0)
      (func (export "empty"))
      (func (export "calls") call $empty call $empty)
      (func (export "callsWithArgs") (result i32) i32.const 1 call $id drop i32.const 2)
      (func (export "returns") (result i32) nop i32.const 1 return)
      (func (export "branches") (result i32) block (result i32) i32.const 1 br 0 end)
      (func (export "chooses") (param i32) (result i32) local.get 0 if (result i32) i32.const 1 else i32.const 2 i32.const 3 i32.add end)
      (func (export "fills") (param i32) (local i64) i32.const 0 i32.const 7 local.get 0 memory.fill)
      (func (export "copies") (param i32 i32) i32.const 64 local.get 1 local.get 0 memory.copy)
      (func (export "loops") (param i32) (local i32)
        loop
          local.get 1 i32.const 1 i32.add local.tee 1 local.get 0 i32.lt_s br_if 0
        end))`;
    writeFileSync(join(dir, "t.wat"), wat);
    const built = spawnSync("wat2wasm", [join(dir, "t.wat"), "-o", join(dir, "t.wasm")], { encoding: "utf8" });
    if (built.error) throw new Error("wat2wasm is missing: install Debian's wabt");
    expect(built.status, built.stderr).toBe(0);
    const { instance } = await WebAssembly.instantiate(countingModule(readFileSync(join(dir, "t.wasm"))), {});
    const cost = (name: string, ...args: number[]) => {
      const before = operatorsSoFar(instance.exports);
      (instance.exports[name] as (...a: number[]) => number)(...args);
      return operatorsSoFar(instance.exports) - before;
    };
    expect(cost("empty")).toBe(1);
    expect(cost("calls")).toBe(1 + 2 * (1 + 1));
    expect(cost("callsWithArgs")).toBe(1 + 3 + 2);
    expect(cost("returns")).toBe(2);
    expect(cost("branches")).toBe(3);
    expect(cost("chooses", 1)).toBe(4);
    expect(cost("chooses", 0)).toBe(6);
    // 1 to enter, 4 operators and a unit per byte
    expect(cost("fills", 0)).toBe(5);
    expect(cost("fills", 100)).toBe(105);
    expect(cost("copies", 33, 8)).toBe(38);
    // 1 to enter, then 7 operators a turn (loop and end are free)
    expect(cost("loops", 10)).toBe(1 + 7 * 10);
  });
});

describe("where an event's operators go (phasor bench --operators)", () => {
  it("splits each build's count into its MACs, unit arithmetic, time gates and the rest, which add up to it", async () => {
    const names = Object.fromEntries(
      (["mcu", "scalar", "simd"] as const).map((build) => [build, functionNames(readFileSync(`build/phasor-${build}.wat`, "utf8"))]),
    );
    const modules = Object.fromEntries((["mcu", "scalar", "simd"] as const).map((build) => [build, readFileSync(`build/phasor-${build}.wasm`)]));
    const results = await runOperatorCount(modules, { points: [{ hidden: 32, input: 1, rOn: 1 }], warm: 20, events: 40, names });
    expect(results.map((r) => r.build)).toEqual(["scalar", "simd", "mcu"]);
    for (const r of results) {
      const { macs, units, timeGates, event } = r.shares!;
      expect(macs + units + timeGates + event).toBeCloseTo(r.operatorsPerEvent, 6);
      for (const share of [macs, units, timeGates, event]) expect(share).toBeGreaterThan(0);
      // a MAC of the microcontroller build is at least a load, a multiply and an add; the scalar build's U h does two
      // with those three (fixed/sums.ts, PAIRED), but this model's U rows are bounded only lane-chunk by lane-chunk
      // (docs/fixed-point.md, "U h in 64 bits"), so each 8 columns of a pair are split into two rows' sums, about 20
      // operators (lanePairSums); its W x of one input is one; SIMD does 8 with a handful of operators
      if (r.build === "simd") expect(macs / r.macsPerEvent).toBeLessThan(2.5);
      else if (r.build === "scalar") expect(macs / r.macsPerEvent).toBeGreaterThan(1.5);
      else expect(macs / r.macsPerEvent).toBeGreaterThan(3);
      if (r.build === "scalar") expect(macs / r.macsPerEvent).toBeLessThan(5);
    }
  });

  it("counts an int8 point on the int8 microcontroller build, and splits it alike", async () => {
    const builds = ["mcu-int8", "scalar", "simd"] as const;
    const names = Object.fromEntries(builds.map((build) => [build, functionNames(readFileSync(`build/phasor-${build}.wat`, "utf8"))]));
    const modules = Object.fromEntries(builds.map((build) => [build, readFileSync(`build/phasor-${build}.wasm`)]));
    const results = await runOperatorCount(modules, { points: [{ hidden: 32, input: 1, rOn: 1, weights: "int8" }], warm: 20, events: 40, names });
    expect(results.map((r) => [r.build, r.weights])).toEqual([["scalar", "int8"], ["simd", "int8"], ["mcu-int8", "int8"]]);
    for (const r of results) {
      expect(r.skipped).toBeUndefined();
      const { macs, units, timeGates, event } = r.shares!;
      expect(macs + units + timeGates + event).toBeCloseTo(r.operatorsPerEvent, 6);
      for (const share of [macs, units, timeGates, event]) expect(share).toBeGreaterThan(0);
      // every int8 U row of 32 columns is within the whole-row bound (32 x 127 < 65538): the scalar build's U h does
      // two MACs with a load, a multiply and an add (fixed/sums.ts, PAIRED), its W x of one input one
      if (r.build === "scalar") expect(macs / r.macsPerEvent).toBeLessThan(4);
    }
    // the int16 microcontroller build is not given an int8 point: it has no int8 kernel
    const int16Only = await runOperatorCount({ mcu: modules["mcu-int8"] }, { points: [{ hidden: 32, input: 1, rOn: 1, weights: "int8" }], warm: 20, events: 40 });
    expect(int16Only).toEqual([]);
  });

  it("names a module's functions as its text form does, imports first", () => {
    const wat = ` (import "env" "abort" (func $~lib/builtins/abort (param i32)))\n (func $a/first (result i32)\n  i32.const 1\n )\n (func $a/second\n )\n`;
    expect(functionNames(wat)).toEqual(["$~lib/builtins/abort", "$a/first", "$a/second"]);
  });

  it("gives a generic's quoted name unquoted, so the shares find it", () => {
    const wat = ` (func $a/first\n )\n (func $"assembly/fixed/sums/chunk8<i64,i64>" (param $0 i32)\n )\n`;
    expect(functionNames(wat)).toEqual(["$a/first", "$assembly/fixed/sums/chunk8<i64,i64>"]);
    expect(operatorShares(new Map([[1, 7]]), functionNames(wat)).macs).toBe(7);
  });
});
