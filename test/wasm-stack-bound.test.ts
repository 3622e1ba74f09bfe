/**
 * tools/cli/wasm-needs.ts reads what a module needs of its runtime: the linear memory it declares, and a bound on the
 * interpreter stack of any call of an export, the deepest chain of calls with each frame's params, locals, deepest
 * operand stack and deepest block nesting. Held to small modules whose numbers are known by hand (wabt's wat2wasm),
 * including code after a branch, where the stack is polymorphic; recursion and SIMD are refused.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BLOCK_BYTES, FRAME_HEADER_BYTES, STACK_SLOT_BYTES, moduleNeeds } from "../tools/cli/wasm-needs.js";
import { MCU_FILE } from "./support/mcu.js";

const dir = mkdtempSync(join(tmpdir(), "phasor-wasm-needs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function wasm(text: string): Uint8Array {
  const source = join(dir, "m.wat");
  const out = join(dir, "m.wasm");
  writeFileSync(source, text);
  const run = spawnSync("wat2wasm", [source, "-o", out], { encoding: "utf8" });
  if (run.error) throw new Error("wat2wasm is missing: install Debian's wabt (apt-get install -y wabt)");
  expect(run.stderr).toBe("");
  return readFileSync(out);
}

/** The bytes the bound counts for one frame: its values, its blocks and its body's, a header. */
const frame = (values: number, blocks: number) => values * STACK_SLOT_BYTES + (blocks + 1) * BLOCK_BYTES + FRAME_HEADER_BYTES;
/** The host's entry frame: a header and two values. */
const ENTRY = FRAME_HEADER_BYTES + 2 * STACK_SLOT_BYTES;

describe("moduleNeeds", () => {
  it("reads the declared memory", () => {
    expect(moduleNeeds(wasm("(module (memory 3 5))")).memory).toEqual({ initialPages: 3, maximumPages: 5, initialBytes: 3 * 65536 });
    expect(moduleNeeds(wasm("(module (memory 1))")).memory).toEqual({ initialPages: 1, maximumPages: undefined, initialBytes: 65536 });
  });

  it("counts params, locals and the deepest operand stack of a function", () => {
    const needs = moduleNeeds(
      wasm(`(module (memory 1)
        (func (export "f") (param i32 f64) (result i32) (local i64 i64 i32)
          local.get 0 local.get 0 local.get 0 local.get 0 i32.add i32.add i32.add
          i32.const 1 i32.add))`),
    );
    expect(needs.stack.frames).toEqual([{ name: "f", values: 2 + 3 + 4, blocks: 0, bytes: frame(9, 0) }]);
    // the entry frame, the one frame, and room for another as large
    expect(needs.stack.bytes).toBe(ENTRY + 2 * frame(9, 0));
  });

  it("counts the deepest block nesting, and the values a block's params and results keep", () => {
    const needs = moduleNeeds(
      wasm(`(module (memory 1) (type $t (func (param i32) (result i32 i32)))
        (func (export "g") (result i32)
          i32.const 1
          (block $a (result i32)
            (loop $b (result i32)
              (if (result i32) (i32.const 0)
                (then (block $c (result i32) i32.const 2 i32.const 3 i32.const 4 drop drop))
                (else i32.const 5))))
          i32.add
          i32.const 7
          (block (type $t) i32.const 8 i32.add i32.const 9)
          drop drop))`),
    );
    // the deepest point: 1 under $a, then 2, 3 and 4 inside $c; four blocks deep at $c
    expect(needs.stack.frames).toEqual([{ name: "g", values: 4, blocks: 4, bytes: frame(4, 4) }]);
  });

  it("keeps counting after a branch, where the stack is polymorphic, without going below the block", () => {
    const needs = moduleNeeds(
      wasm(`(module (memory 1)
        (func (export "h") (param i32) (result i32)
          (block (result i32)
            i32.const 1
            br 0
            i32.add i32.add i32.const 2 i32.const 3 i32.const 4 drop drop drop)))`),
    );
    // the param, then after br: the adds take what is not there and leave 1, and 2, 3, 4 make it 4 deep
    expect(needs.stack.frames[0].values).toBe(1 + 4);
  });

  it("adds the frames of the deepest chain of calls from any export", () => {
    const needs = moduleNeeds(
      wasm(`(module (memory 1)
        (func $leaf (param i32) (result i32) local.get 0 local.get 0 i32.mul)
        (func $mid (param i32) (result i32) (local i32) local.get 0 call $leaf local.get 0 call $leaf i32.add)
        (func $top (export "top") (result i32) i32.const 3 call $mid)
        (func $flat (export "flat") (result i32) (local i32 i32 i32 i32 i32 i32 i32 i32) i32.const 1))`),
    );
    expect(needs.stack.frames.map((f) => f.name)).toEqual(["top", "function 1", "function 0"]);
    const flat = frame(0 + 8 + 1, 0);
    expect(needs.stack.headroomBytes).toBe(flat);
    expect(needs.stack.bytes).toBe(ENTRY + frame(0 + 0 + 1, 0) + frame(1 + 1 + 2, 0) + frame(1 + 0 + 2, 0) + flat);
  });

  it("refuses recursion and SIMD, which it cannot bound", () => {
    expect(() => moduleNeeds(wasm(`(module (memory 1) (func $f (export "f") (param i32) local.get 0 call $f))`))).toThrow(/recursive/);
    expect(() => moduleNeeds(wasm(`(module (memory 1) (func (export "v") (result i32) v128.const i32x4 1 2 3 4 i32x4.extract_lane 0))`))).toThrow(/SIMD/);
    expect(() => moduleNeeds(new TextEncoder().encode("not wasm"))).toThrow(/not a wasm module/);
  });

  it("bounds the MCU build from push down, without recursion", () => {
    const needs = moduleNeeds(readFileSync(MCU_FILE));
    const memory = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(MCU_FILE)), {}).exports.memory as WebAssembly.Memory;
    expect(needs.memory.initialBytes).toBe(memory.buffer.byteLength);
    expect(needs.stack.frames.length).toBeGreaterThan(1);
    const largest = Math.max(...needs.stack.frames.map((f) => f.bytes));
    expect(needs.stack.headroomBytes).toBeGreaterThanOrEqual(largest);
    expect(needs.stack.bytes).toBe(needs.stack.entryBytes + needs.stack.frames.reduce((sum, f) => sum + f.bytes, 0) + needs.stack.headroomBytes);
  });
});
