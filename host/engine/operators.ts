/**
 * Wasm operators executed, counted the way wasmtime's fuel counts them, in any JavaScript engine: a cost that is
 * the same on every machine and is what an interpreter on a device pays for (issue 13, item 4). `phasor bench
 * --operators` prints it; tools/devices/fuel.py counts the same on wasmtime itself, and
 * test/operators-match-wasmtime-fuel.test.ts holds the two to the same numbers, event by event.
 *
 * How: the module is rewritten so that each function adds, before every instruction that ends a straight run of
 * code (a branch, an `if`, `else`, `end`, a call, a `loop`'s entry, `return`), the operators of the run to an
 * exported i64 global of its own, `operators:<function index>`. The rewritten code computes what the original
 * does; only the globals are new. wasmtime charges one unit per operator but for nop, drop, block, loop, else,
 * end, return and unreachable, which cost none (its `fuel_before_op`), one unit for entering a function (an
 * empty function costs 1 there) and, for memory.fill, memory.copy and memory.init, one more per byte they write (as
 * an interpreter's loop does); so does this count: those add their length, read from the stack, as they run.
 */
import { POLICY_REJECT } from "../../assembly/contract/calls.js";
import { MCU_FUNCTIONS, type McuExports } from "./mcu.js";
import { ENGINE_FUNCTIONS, type EngineExports } from "./wasm.js";
import { requireExports } from "./wasm-source.js";

const EXPORT_PREFIX = "operators:";

/** Operators that wasmtime's fuel does not charge for. */
const FREE = new Set([0x00, 0x01, 0x02, 0x03, 0x05, 0x0b, 0x0f, 0x1a]);
/** Operators before which a straight run of code ends: the run is counted there, before control can leave it. */
const ENDS_RUN = new Set([0x00, 0x03, 0x04, 0x05, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13]);

class Bytes {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}
  byte(): number {
    if (this.at >= this.bytes.length) throw new Error(`the module ends at byte ${this.at}, inside a section`);
    return this.bytes[this.at++];
  }
  u32(): number {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
      if (shift > 28) throw new Error(`a LEB128 number longer than 5 bytes at byte ${this.at}`);
    }
  }
  skipLeb(): void {
    while (this.byte() & 0x80);
  }
}

function leb(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) b |= 0x80;
    out.push(b);
  } while (value > 0);
  return out;
}

function name(text: string): number[] {
  const utf8 = new TextEncoder().encode(text);
  return [...leb(utf8.length), ...utf8];
}

function skipMemarg(r: Bytes): void {
  if (r.u32() & 0x40) r.u32(); // a memory index (multi-memory)
  r.skipLeb();
}

/** Skips the immediates of the instruction `op` (its opcode already read). */
function skipImmediates(r: Bytes, op: number): void {
  if (op === 0x02 || op === 0x03 || op === 0x04) {
    const first = r.bytes[r.at];
    if (first === 0x40 || (first >= 0x6f && first <= 0x7f)) r.at++;
    else r.skipLeb();
  } else if (op === 0x0c || op === 0x0d || op === 0x10 || (op >= 0x20 && op <= 0x26) || op === 0xd2) {
    r.u32();
  } else if (op === 0x0e) {
    for (let n = r.u32() + 1; n > 0; n--) r.u32();
  } else if (op === 0x11) {
    r.u32();
    r.u32();
  } else if (op === 0x1c) {
    for (let n = r.u32(); n > 0; n--) r.byte();
  } else if (op >= 0x28 && op <= 0x3e) {
    skipMemarg(r);
  } else if (op === 0x3f || op === 0x40 || op === 0xd0) {
    r.byte();
  } else if (op === 0x41 || op === 0x42) {
    r.skipLeb();
  } else if (op === 0x43) {
    r.at += 4;
  } else if (op === 0x44) {
    r.at += 8;
  } else if (op === 0xfc) {
    const sub = r.u32();
    const immediates = [0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2, 1, 2, 1, 2, 1, 1, 1][sub];
    if (immediates === undefined) throw new Error(`unknown instruction 0xfc ${sub}`);
    for (let n = 0; n < immediates; n++) r.u32();
  } else if (op === 0xfd) {
    const sub = r.u32();
    if (sub <= 11 || sub === 92 || sub === 93) skipMemarg(r);
    else if (sub === 12 || sub === 13) r.at += 16;
    else if (sub >= 21 && sub <= 34) r.at += 1;
    else if (sub >= 84 && sub <= 91) {
      skipMemarg(r);
      r.at += 1;
    }
  } else if (!(op <= 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b || (op >= 0x45 && op <= 0xc4) || op === 0xd1)) {
    throw new Error(`an instruction this counter does not know (0x${op.toString(16)}) at byte ${r.at - 1}`);
  }
}

/** The bulk memory instructions (0xfc 8, 10, 11), which wasmtime charges one unit more per byte. */
function isBulk(body: Uint8Array, at: number): boolean {
  return body[at] === 0xfc && (body[at + 1] === 8 || body[at + 1] === 10 || body[at + 1] === 11);
}

/** One function body (of a function with `params` params) with its straight runs counted into global `counter`. */
function countBody(body: Uint8Array, counter: number, params: number): number[] {
  const r = new Bytes(body);
  const groups = r.u32();
  let locals = 0;
  for (let g = 0; g < groups; g++) {
    locals += r.u32();
    r.byte();
  }
  // one more i32 local, after the function's own, for the length of a bulk memory instruction
  const lengthLocal = params + locals;
  const out = [...leb(groups + 1), ...Array.from(body.subarray(leb(groups).length, r.at)), 0x01, 0x7f];
  // wasmtime charges one unit for entering a function (measured: an empty function costs 1)
  let run = 1;
  const flush = () => {
    if (run > 0) out.push(0x23, ...leb(counter), 0x42, ...signedLeb(run), 0x7c, 0x24, ...leb(counter));
    run = 0;
  };
  while (r.at < body.length) {
    const start = r.at;
    const op = r.byte();
    skipImmediates(r, op);
    if (!FREE.has(op)) run++;
    if (ENDS_RUN.has(op)) flush();
    if (isBulk(body, start)) {
      const length = leb(lengthLocal);
      // the length is on top of the stack: count it and leave it there
      out.push(0x22, ...length, 0x23, ...leb(counter), 0x20, ...length, 0xad, 0x7c, 0x24, ...leb(counter));
    }
    out.push(...body.subarray(start, r.at));
  }
  return out;
}

function signedLeb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = value & 0x7f;
    value = Math.floor(value / 128);
    if ((value === 0 && (b & 0x40) === 0) || (value === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function section(id: number, contents: number[]): number[] {
  return [id, ...leb(contents.length), ...contents];
}

/**
 * The module rewritten to count its operators: one exported mutable i64 global `operators:<index>` per defined
 * function, holding the operators that function's own code has executed (its callees count in theirs).
 */
export function countingModule(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new Error("not a wasm module (no \\0asm magic)");
  const sections: { id: number; contents: Uint8Array }[] = [];
  const r = new Bytes(bytes);
  r.at = 8;
  while (r.at < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    sections.push({ id, contents: bytes.subarray(r.at, r.at + size) });
    r.at += size;
  }
  let importedFunctions = 0;
  let importedGlobals = 0;
  const typeParams: number[] = [];
  const functionParams: number[] = [];
  let definedGlobals = 0;
  let bodies = 0;
  for (const { id, contents } of sections) {
    const s = new Bytes(contents);
    if (id === 1) {
      for (let n = s.u32(); n > 0; n--) {
        if (s.byte() !== 0x60) throw new Error("a type that is not a function type");
        const params = s.u32();
        s.at += params;
        const results = s.u32();
        s.at += results;
        typeParams.push(params);
      }
    } else if (id === 3) {
      for (let n = s.u32(); n > 0; n--) functionParams.push(typeParams[s.u32()]);
    } else if (id === 2) {
      for (let n = s.u32(); n > 0; n--) {
        for (let name = 0; name < 2; name++) {
          const length = s.u32();
          s.at += length;
        }
        const kind = s.byte();
        if (kind === 0) {
          importedFunctions++;
          s.u32();
        } else if (kind === 1) {
          s.byte();
          if (s.byte() & 1) s.u32();
          s.u32();
        } else if (kind === 2) {
          if (s.byte() & 1) s.u32();
          s.u32();
        } else {
          importedGlobals++;
          s.at += 2;
        }
      }
    } else if (id === 6) {
      definedGlobals = s.u32();
    } else if (id === 10) {
      bodies = s.u32();
    }
  }
  const firstCounter = importedGlobals + definedGlobals;
  const counters: number[] = [];
  for (let f = 0; f < bodies; f++) counters.push(0x7e, 0x01, 0x42, 0x00, 0x0b); // mut i64 = 0
  const counterExports: number[] = [];
  for (let f = 0; f < bodies; f++) counterExports.push(...name(`${EXPORT_PREFIX}${importedFunctions + f}`), 0x03, ...leb(firstCounter + f));

  const out: number[] = Array.from(bytes.subarray(0, 8));
  let globalsWritten = false;
  let exportsWritten = false;
  const writeGlobals = (existing?: Uint8Array) => {
    const s = new Bytes(existing ?? new Uint8Array([0]));
    const count = s.u32();
    out.push(...section(6, [...leb(count + bodies), ...(existing ? Array.from(existing.subarray(s.at)) : []), ...counters]));
    globalsWritten = true;
  };
  const writeExports = (existing?: Uint8Array) => {
    const s = new Bytes(existing ?? new Uint8Array([0]));
    const count = s.u32();
    out.push(...section(7, [...leb(count + bodies), ...(existing ? Array.from(existing.subarray(s.at)) : []), ...counterExports]));
    exportsWritten = true;
  };
  // the order of sections: ..., memory 5, tag 13, global 6, export 7, start 8, ...
  const rank = (id: number) => (id === 13 ? 5.5 : id === 12 ? 9.5 : id);
  for (const { id, contents } of sections) {
    if (id !== 0 && !globalsWritten && rank(id) > 6) writeGlobals();
    if (id !== 0 && !exportsWritten && rank(id) > 7) writeExports();
    if (id === 6) writeGlobals(contents);
    else if (id === 7) writeExports(contents);
    else if (id === 10) {
      const s = new Bytes(contents);
      const count = s.u32();
      const code: number[] = [...leb(count)];
      for (let f = 0; f < count; f++) {
        const length = s.u32();
        const counted = countBody(contents.subarray(s.at, s.at + length), firstCounter + f, functionParams[f]);
        s.at += length;
        code.push(...leb(counted.length), ...counted);
      }
      out.push(...section(10, code));
    } else out.push(...section(id, Array.from(contents)));
  }
  if (!globalsWritten) writeGlobals();
  if (!exportsWritten) writeExports();
  return Uint8Array.from(out);
}

/** The operators each function of a counting instance has executed so far, by function index. */
export function operatorsByFunction(exports: WebAssembly.Exports): Map<number, number> {
  const counts = new Map<number, number>();
  for (const [key, value] of Object.entries(exports)) {
    if (key.startsWith(EXPORT_PREFIX)) counts.set(Number(key.slice(EXPORT_PREFIX.length)), Number((value as WebAssembly.Global).value));
  }
  return counts;
}

/** The operators a counting instance has executed so far, in every function. */
export function operatorsSoFar(exports: WebAssembly.Exports): number {
  let total = 0;
  for (const count of operatorsByFunction(exports).values()) total += count;
  return total;
}

export interface PushCount {
  /** operators of each counted push, in order */
  perEvent: number[];
  /** operators of the counted pushes by function index (the function's own code, not its callees) */
  byFunction: Map<number, number>;
  /** unit updates (open unit-events) of the counted pushes, summed over layers; the library builds count them,
   * the microcontroller build does not (it runs the same schedule, so a library build's count holds for it) */
  unitUpdates?: number;
}

/**
 * Runs events (t, x event-major with inputSize values each) as one stream through a build (the microcontroller
 * module or a library build), one push per event as tools/devices/fuel.py does, and counts the operators of every push
 * after the first `warm`. The model is a .plsm image the build runs.
 */
export async function countPushOperators(module: Uint8Array, image: Uint8Array, t: ArrayLike<number>, x: ArrayLike<number>, inputSize: number, warm = 0): Promise<PushCount> {
  const { instance } = await WebAssembly.instantiate(countingModule(module), {});
  const exports = instance.exports;
  const memory = exports.memory as WebAssembly.Memory;
  let push: (t: number) => number;
  let updates: (() => number) | undefined;
  let inputAt: number;
  if (typeof exports.init === "function") {
    const mcu = requireExports<McuExports>(exports, MCU_FUNCTIONS, "the microcontroller build");
    new Uint8Array(memory.buffer, mcu.modelBuffer(), image.length).set(image);
    const status = mcu.init(image.length);
    if (status !== 0) throw new Error(status === -4 ? "the model does not fit the microcontroller build's arena (init answered -4)" : `the microcontroller build rejected the model (init answered ${status})`);
    inputAt = mcu.inputBuffer();
    push = (time) => mcu.push(time);
  } else {
    const lib = requireExports<EngineExports>(exports, ENGINE_FUNCTIONS, "a library build");
    const at = lib.alloc(image.length);
    new Uint8Array(memory.buffer, at, image.length).set(image);
    const model = lib.modelCreate(at, image.length);
    if (model === 0) throw new Error("the library build rejected the model");
    const stream = lib.streamCreate(model);
    inputAt = lib.alloc(4 * inputSize);
    push = (time) => lib.push(model, stream, time, inputAt, POLICY_REJECT);
    updates = () => lib.streamUpdates(stream);
  }
  const perEvent: number[] = [];
  let before = new Map<number, number>();
  let updatesBefore = 0;
  for (let e = 0; e < t.length; e++) {
    if (e === warm) {
      // streamUpdates first: its own operators are no event's
      updatesBefore = updates?.() ?? 0;
      before = operatorsByFunction(exports);
    }
    new Float32Array(memory.buffer, inputAt, inputSize).set(Array.from({ length: inputSize }, (_, i) => x[e * inputSize + i]));
    const start = operatorsSoFar(exports);
    const status = push(t[e]);
    if (status !== 0) throw new Error(`push refused event ${e} (t=${t[e]}) with status ${status}`);
    if (e >= warm) perEvent.push(operatorsSoFar(exports) - start);
  }
  const byFunction = new Map<number, number>();
  for (const [f, count] of operatorsByFunction(exports)) byFunction.set(f, count - (before.get(f) ?? 0));
  return { perEvent, byFunction, ...(updates ? { unitUpdates: updates() - updatesBefore } : {}) };
}

/**
 * The functions of a module by index, named as its text form (the build's .wat, which asc writes beside it) names
 * them: imported functions first, then the module's own, in the order they are declared. A name the text form
 * quotes (a generic's, `$"a/b<i16,i32>"`) is given unquoted (`$a/b<i16,i32>`).
 */
export function functionNames(wat: string): string[] {
  return [...wat.matchAll(/^ \((?:import "[^"]*" "[^"]*" \()?func \$(?:"([^"]*)"|(\S+))/gm)].map((m) => `$${m[1] ?? m[2]}`);
}

/** Where an event's operators go in the fixed engine, by the source file and function that execute them. */
export interface OperatorShares {
  /** the multiply-accumulates of W x and U h and their loops (assembly/fixed/sums.ts) */
  macs: number;
  /** the open units' gate arithmetic: activations, peepholes, the cell and h updates (fixed/step.ts updateUnits) */
  units: number;
  /** the time gate of every unit the event visits, and the timing wheel that files the closed ones */
  timeGates: number;
  /** the rest: the event's checks, its input, the layer loop and the bookkeeping of the stream */
  event: number;
}

const SHARE_OF: [RegExp, keyof OperatorShares][] = [
  [/^\$assembly\/fixed\/sums\//, "macs"],
  [/^\$assembly\/fixed\/(step\/updateUnits|activation\/|arith\/)/, "units"],
  [/^\$assembly\/(fixed\/step\/timeGate|schedule\/)/, "timeGates"],
];

/** Operators by function (PushCount.byFunction) summed into shares, with the functions' names (functionNames). */
export function operatorShares(byFunction: Map<number, number>, names: string[]): OperatorShares {
  const shares: OperatorShares = { macs: 0, units: 0, timeGates: 0, event: 0 };
  for (const [f, count] of byFunction) {
    const name = names[f];
    if (name === undefined) throw new Error(`function ${f} has no name in the module's text form: is it the text of another build?`);
    shares[SHARE_OF.find(([pattern]) => pattern.test(name))?.[1] ?? "event"] += count;
  }
  return shares;
}
