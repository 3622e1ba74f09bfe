/**
 * Every wasm in build/ is what its name and its doc say: the scalar and microcontroller builds hold no SIMD
 * instruction (Debian's wabt: wasm-validate --disable-simd refuses a SIMD build and accepts them), each build
 * imports exactly what is documented (docs/wasi.md, docs/embedding.md; the engines import nothing), and the
 * microcontroller builds keep their budgets: at most 8 KiB of module (the int16 and the int8 one; 10 KiB for the learning one,
 * docs/on-device-learning.md), at most 2 pages of memory for an (H=32, I=4) model, a memory that cannot grow, and
 * no memory.grow in their code.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MCU_FUNCTIONS, MCU_LEARNING_FUNCTIONS } from "../host/engine/mcu.js";
import { requireExports } from "../host/engine/wasm-source.js";
import { ENGINE_FUNCTIONS } from "../host/engine/wasm.js";
import { TRAINER_FUNCTIONS } from "../host/training/trainer.js";
import { quantize, type WeightWidth } from "../host/model/quantize.js";
import { calibrationStreams } from "./support/engines.js";
import { rewritten } from "./support/plsm-bytes.js";
import { MCU_FILE, MCU_INT8_FILE, MCU_INT8_PAGE_FILE, MCU_LEARN_FILE, mcuInstance, mcuInt8Instance, mcuLearningInstance, mcuLoad, mcuRun, type McuExports } from "./support/mcu.js";
import { Rng, randomModel, randomStream } from "./support/random.js";

const PAGE = 65536;

const WASI_IMPORTS = [
  "args_get", "args_sizes_get", "fd_close", "fd_datasync", "fd_fdstat_get", "fd_prestat_dir_name", "fd_prestat_get", "fd_read", "fd_sync", "fd_write",
  "path_filestat_get", "path_open", "path_rename", "path_unlink_file", "proc_exit",
];
const MCU_EXPORTS = ["arenaBytes", "arenaNeeded", "arenaUsed", "init", "inputBuffer", "memory", "modelBuffer", "output", "push", "reset"];
const LEARNING_EXPORTS = ["learn", "readoutBuffer", "readoutLoad", "readoutReset", "readoutSave", "readoutSize", "targetBuffer"];

/** The microcontroller modules: what each must export (its doc's list, and the functions its host calls), its
 * budget, the weights of the models it runs, and the hidden size of an (I = 64) model whose image fits its arena
 * but whose state does not. */
type McuModule = { budget: number; exports: string[]; functions: object; instance: () => Promise<McuExports>; weights: WeightWidth; wide: number };
const MCU_MODULES: [string, McuModule][] = [
  [MCU_FILE, { budget: 8 * 1024, exports: MCU_EXPORTS, functions: MCU_FUNCTIONS, instance: () => mcuInstance(), weights: "int16", wide: 90 }],
  [MCU_INT8_FILE, { budget: 8 * 1024, exports: MCU_EXPORTS, functions: MCU_FUNCTIONS, instance: () => mcuInt8Instance(), weights: "int8", wide: 130 }],
  [MCU_INT8_PAGE_FILE, { budget: 8 * 1024, exports: MCU_EXPORTS, functions: MCU_FUNCTIONS, instance: () => mcuInt8Instance(MCU_INT8_PAGE_FILE), weights: "int8", wide: 88 }],
  [
    MCU_LEARN_FILE,
    { budget: 10 * 1024, exports: [...MCU_EXPORTS, ...LEARNING_EXPORTS].sort(), functions: MCU_LEARNING_FUNCTIONS, instance: mcuLearningInstance, weights: "int16", wide: 90 },
  ],
];

const builds = readdirSync("build").filter((name) => name.endsWith(".wasm")).sort();
/** A build is a SIMD build when its name says so, and the WASI command's default build is. */
const isSimd = (name: string) => name.includes("-simd") || name === "phasor-wasi.wasm";

function wabt(tool: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(tool, args, { encoding: "utf8", maxBuffer: 1 << 28 });
  if (run.error) throw new Error(`${tool} is missing: install Debian's wabt (apt-get install -y wabt)`);
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** SIMD instructions in a disassembly: every one names v128 or a lane shape (i8x16 .. f64x2). */
const SIMD_INSTRUCTION = /\b(v128|[if](8x16|16x8|32x4|64x2))\./;

describe("the wasm builds", () => {
  it("are all there", () => {
    for (const name of ["phasor-simd.wasm", "phasor-scalar.wasm", "phasor-mcu.wasm", "phasor-mcu-int8.wasm", "phasor-mcu-int8-page.wasm", "phasor-mcu-learn.wasm", "phasor-wasi.wasm", "phasor-wasi-scalar.wasm"]) {
      expect(builds).toContain(name);
    }
  });

  for (const name of builds) {
    it(`${name}: ${isSimd(name) ? "uses SIMD" : "has no SIMD instruction"}`, () => {
      const file = `build/${name}`;
      expect(wabt("wasm-validate", [file]).status).toBe(0);
      const withoutSimd = wabt("wasm-validate", ["--disable-simd", file]);
      const simdLines = wabt("wasm-objdump", ["-d", file]).stdout.split("\n").filter((line) => SIMD_INSTRUCTION.test(line));
      if (isSimd(name)) {
        expect(withoutSimd.status, "wasm-validate --disable-simd must refuse a SIMD build").not.toBe(0);
        expect(simdLines.length).toBeGreaterThan(0);
      } else {
        expect(withoutSimd.stderr).toBe("");
        expect(withoutSimd.status).toBe(0);
        expect(simdLines.slice(0, 3)).toEqual([]);
      }
    });

    it(`${name}: imports exactly what is documented`, () => {
      const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(`build/${name}`)));
      if (name.startsWith("phasor-wasi")) {
        expect(imports.every((i) => i.module === "wasi_snapshot_preview1" && i.kind === "function")).toBe(true);
        expect(imports.map((i) => i.name).sort()).toEqual(WASI_IMPORTS);
      } else {
        expect(imports).toEqual([]);
      }
    });
  }

  it("the engine builds export exactly the functions the host calls (host/engine/wasm.ts), and a memory", () => {
    for (const name of ["phasor-simd.wasm", "phasor-scalar.wasm"]) {
      const exports = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(`build/${name}`)));
      expect(exports.map((e) => e.name).sort()).toEqual([...Object.keys(ENGINE_FUNCTIONS), "memory"].sort());
    }
  });

  it("the trainer builds export exactly the functions the trainer calls (host/training/trainer.ts), and a memory", () => {
    for (const name of ["phasor-train-simd.wasm", "phasor-train-scalar.wasm"]) {
      const exports = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(`build/${name}`)));
      expect(exports.map((e) => e.name).sort()).toEqual([...Object.keys(TRAINER_FUNCTIONS), "memory"].sort());
    }
  });

  it("a module that lacks a function the host calls is refused when it is instantiated, naming what it lacks", async () => {
    const { instance } = await WebAssembly.instantiate(readFileSync(MCU_FILE), {});
    expect(() => requireExports(instance.exports, ENGINE_FUNCTIONS, "phasor-mcu.wasm")).toThrow(
      /phasor-mcu\.wasm: the module does not export alloc, free, modelCreate, .*pushBatchLearned: it is not a build of these sources/,
    );
    expect(requireExports(instance.exports, MCU_FUNCTIONS, "phasor-mcu.wasm")).toBe(instance.exports);
  });

  it("the WASI command exports its memory and _start only", () => {
    for (const name of ["phasor-wasi.wasm", "phasor-wasi-scalar.wasm"]) {
      const exports = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(`build/${name}`)));
      expect(exports.map((e) => e.name).sort()).toEqual(["_start", "memory"]);
    }
  });
});

describe.each(MCU_MODULES)("the microcontroller build %s", (file, { budget, exports: documented, functions, instance, weights, wide: wideHidden }) => {
  const bytes = readFileSync(file);

  it(`is at most ${budget} bytes and exports what its doc lists`, () => {
    expect(bytes.length).toBeLessThanOrEqual(budget);
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(bytes));
    expect(exports.map((e) => e.name).sort()).toEqual(documented);
    expect(documented).toEqual([...Object.keys(functions), "memory"].sort());
  });

  it("declares a memory of at most 2 pages that may not grow, and has no memory.grow", () => {
    const header = wabt("wasm-objdump", ["-x", file]).stdout;
    const memory = /memory\[0\] pages: initial=(\d+) max=(\d+)/.exec(header);
    expect(memory, "the memory has a maximum").not.toBeNull();
    const [initial, maximum] = [Number(memory![1]), Number(memory![2])];
    expect(initial).toBeLessThanOrEqual(2);
    expect(maximum).toBe(initial);
    expect(wabt("wasm-objdump", ["-d", file]).stdout).not.toMatch(/memory\.grow/);
  });

  it("runs an (H=32, I=4) model in its 2 pages, without growing them", async () => {
    const rng = new Rng(32);
    const model = randomModel(rng, { inputSize: 4, hidden: [32], peephole: true, rOn: 0.05, outputs: 3, mode: "last", alpha: 0 });
    const { bytes: image } = quantize(model, calibrationStreams(4, 4), "mcu-budget", weights);
    const mcu = await instance();
    const pages = mcu.memory.buffer.byteLength / PAGE;
    expect(pages).toBeLessThanOrEqual(2);
    expect(mcuLoad(mcu, image)).toBe(0);
    expect(mcu.arenaUsed()).toBeGreaterThan(image.length);
    expect(mcu.arenaUsed()).toBeLessThanOrEqual(mcu.arenaBytes());
    const events = randomStream(rng, { n: 500, inputSize: 4, start: "epoch" });
    const y = mcuRun(mcu, events.t, events.x, 4, 3, new Set([0, 250]));
    expect(y.every(Number.isFinite)).toBe(true);
    expect(mcu.memory.buffer.byteLength).toBe(pages * PAGE);
    expect(() => mcu.memory.grow(1)).toThrow(RangeError);
  });

  it("refuses what it cannot run with a status, not a trap", async () => {
    const rng = new Rng(5);
    const mcu = await instance();
    expect(mcu.push(0), "push before init").toBe(-3);
    const model = randomModel(rng, { inputSize: 2, hidden: [8], peephole: false, rOn: 0.5, outputs: 2, mode: "last" });
    const fixed = quantize(model, calibrationStreams(6, 2), "m", weights).bytes;
    expect(mcuLoad(mcu, quantize(model, calibrationStreams(6, 2), "m", weights === "int8" ? "int16" : "int8").bytes), "a model of the weight width it does not run").toBe(-1);
    const corrupt = fixed.slice();
    corrupt[100] ^= 1;
    expect(mcuLoad(mcu, corrupt), "a corrupted image").toBe(-1);
    // the microcontroller builds do not check a step against tau (docs/plsm.md), but one whose period would divide
    // by zero, step + 1 (with low bits) or step (without) wrapping to 0, is refused
    const time = new DataView(fixed.buffer, fixed.byteOffset).getUint32(64 + 28, true);
    for (const [step, low] of [[0n, 0], [0xffffffffffffffffn, 1]] as const) {
      const wraps = rewritten(fixed, (v) => {
        v.setBigUint64(time + 32 + 16, step, true);
        v.setUint32(time + 32 + 28, low, true);
      });
      expect(mcuLoad(mcu, wraps), `a step of ${step} with low bits ${low}`).toBe(-1);
    }
    expect(mcu.init(mcu.arenaBytes() + 1), "longer than the arena").toBe(-4);
    const wide = quantize(randomModel(rng, { inputSize: 64, hidden: [wideHidden], peephole: false, rOn: 0.5, outputs: 2, mode: "last" }), calibrationStreams(7, 64, 1, 50), "w", weights).bytes;
    expect(wide.length).toBeLessThan(mcu.arenaBytes());
    expect(mcuLoad(mcu, wide), "an image that fits but whose state does not").toBe(-4);
    expect(mcuLoad(mcu, fixed)).toBe(0);
    new Float32Array(mcu.memory.buffer, mcu.inputBuffer(), 2).set([0.5, NaN]);
    expect(mcu.push(1), "a non-finite input").toBe(-2);
    new Float32Array(mcu.memory.buffer, mcu.inputBuffer(), 2).set([0.5, 0.25]);
    expect(mcu.push(2)).toBe(0);
    expect(mcu.push(1), "time going backwards").toBe(-2);
  });
});
