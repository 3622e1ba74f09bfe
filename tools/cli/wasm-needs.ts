/**
 * What a wasm module needs from the runtime that hosts it, read from its binary (WebAssembly core spec 1.0 with
 * the post-MVP scalar proposals): its linear memory as declared, and a bound on the interpreter stack any call of
 * an export can take. `phasor export-c` writes both beside the model, so that firmware sizes them from the module
 * it embeds rather than by trial.
 *
 * The stack bound. Interpreters (WAMR, wasm3) keep, for each active call, a frame of the function's params and
 * locals, its operand stack, its open blocks and a header of their own. Per function this reads the params, the
 * locals and, instruction by instruction, the deepest operand stack and block nesting its code reaches; the call
 * graph gives the deepest chain of frames from an export (a recursive module has no static bound and is refused).
 * Each frame is counted at STACK_SLOT_BYTES per value (the widest scalar: wasm3 gives every value 8 bytes, WAMR
 * 4 or 8), BLOCK_BYTES per block open at once, the function's body included (a label: WAMR's classic interpreter
 * keeps one per block, its fast interpreter and wasm3 none) and FRAME_HEADER_BYTES (WAMR's frame header on 64-bit
 * hosts, the larger of theirs). Two more terms come from how WAMR's classic interpreter, the hungriest of those
 * checked, uses its stack: the host's call enters through a frame of its own (a header and two values), and
 * pushing a frame needs room for twice its size, so the bound leaves room for one more frame as large as the
 * module's largest. Checked by hand against WAMR 2.4.5 (docs/embedding.md, "Stack").
 */

/** Bytes a bound counts per value on an interpreter's stack. */
export const STACK_SLOT_BYTES = 8;
/** Bytes a bound counts per open block. */
export const BLOCK_BYTES = 32;
/** Bytes a bound counts per call for the runtime's own frame header. */
export const FRAME_HEADER_BYTES = 96;

const PAGE_BYTES = 65536;

export interface StackFrame {
  /** the function's export name, or its index in the function space */
  name: string;
  values: number;
  blocks: number;
  bytes: number;
}

export interface ModuleNeeds {
  memory: { initialPages: number; maximumPages: number | undefined; initialBytes: number };
  stack: {
    /** the bound: the entry frame, the frames of the deepest chain and the headroom */
    bytes: number;
    /** the deepest chain of frames a call of an export can make */
    frames: StackFrame[];
    /** the host's entry frame */
    entryBytes: number;
    /** room for one more frame as large as the module's largest */
    headroomBytes: number;
  };
}

/** The host's call enters through a frame of a header and two values. */
const ENTRY_FRAME_BYTES = FRAME_HEADER_BYTES + 2 * STACK_SLOT_BYTES;

interface FuncType {
  params: number;
  results: number;
}

interface FunctionBody {
  type: FuncType;
  locals: number;
  maxDepth: number;
  maxBlocks: number;
  calls: Set<number>;
}

class Reader {
  at = 0;
  constructor(
    readonly bytes: Uint8Array,
    private readonly end = bytes.length,
  ) {}

  get done(): boolean {
    return this.at >= this.end;
  }

  byte(): number {
    if (this.at >= this.end) throw new WasmShapeError(`the module ends inside a section (at byte ${this.at})`);
    return this.bytes[this.at++];
  }

  u32(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new WasmShapeError(`a LEB128 number longer than 5 bytes at byte ${this.at}`);
  }

  /** a signed LEB128 of any width, skipped (constants do not change the stack's depth) */
  skipSigned(): void {
    while (this.byte() & 0x80);
  }

  skip(n: number): void {
    this.at += n;
  }
}

export class WasmShapeError extends Error {}

/** Params and results of a block type: empty (0x40), one value type, or a type index (s33). */
function blockType(r: Reader, types: FuncType[]): FuncType {
  const first = r.bytes[r.at];
  if (first === 0x40) {
    r.at++;
    return { params: 0, results: 0 };
  }
  if (first >= 0x6f && first <= 0x7f) {
    r.at++;
    return { params: 0, results: 1 };
  }
  const index = r.u32();
  const type = types[index];
  if (type === undefined) throw new WasmShapeError(`block type ${index} is not in the type section`);
  return type;
}

function skipMemarg(r: Reader): void {
  const align = r.u32();
  if (align & 0x40) r.u32(); // a memory index (multi-memory)
  r.u32();
}

/** [pops, pushes] of the plain numeric, memory and variable instructions. */
function simpleEffect(op: number): [number, number] | undefined {
  if (op === 0x01) return [0, 0];
  if (op === 0x1a) return [1, 0];
  if (op === 0x1b) return [3, 1];
  if (op === 0x20 || op === 0x23) return [0, 1];
  if (op === 0x21 || op === 0x24) return [1, 0];
  if (op === 0x22) return [1, 1];
  if (op >= 0x28 && op <= 0x35) return [1, 1];
  if (op >= 0x36 && op <= 0x3e) return [2, 0];
  if (op === 0x3f) return [0, 1];
  if (op === 0x40) return [1, 1];
  if (op >= 0x41 && op <= 0x44) return [0, 1];
  if (op === 0x45 || op === 0x50) return [1, 1];
  if ((op >= 0x46 && op <= 0x4f) || (op >= 0x51 && op <= 0x66)) return [2, 1];
  if ((op >= 0x67 && op <= 0x69) || (op >= 0x79 && op <= 0x7b) || (op >= 0x8b && op <= 0x91) || (op >= 0x99 && op <= 0x9f)) return [1, 1];
  if ((op >= 0x6a && op <= 0x78) || (op >= 0x7c && op <= 0x8a) || (op >= 0x92 && op <= 0x98) || (op >= 0xa0 && op <= 0xa6)) return [2, 1];
  if (op >= 0xa7 && op <= 0xc4) return [1, 1];
  if (op === 0xd0 || op === 0xd2) return [0, 1];
  if (op === 0xd1) return [1, 1];
  if (op === 0x25) return [1, 1];
  if (op === 0x26) return [2, 0];
  return undefined;
}

/** [pops, pushes] of the 0xFC-prefixed instructions (saturating truncation, bulk memory, tables). */
function prefixedEffect(r: Reader, sub: number): [number, number] {
  if (sub <= 7) return [1, 1];
  switch (sub) {
    case 8: // memory.init data memory
      r.u32();
      r.u32();
      return [3, 0];
    case 9: // data.drop
    case 13: // elem.drop
      r.u32();
      return [0, 0];
    case 10: // memory.copy
    case 12: // table.init
    case 14: // table.copy
      r.u32();
      r.u32();
      return [3, 0];
    case 11: // memory.fill
    case 17: // table.fill
      r.u32();
      return [3, 0];
    case 15: // table.grow
      r.u32();
      return [2, 1];
    case 16: // table.size
      r.u32();
      return [0, 1];
  }
  throw new WasmShapeError(`unknown instruction 0xfc ${sub}`);
}

interface Control {
  /** operand depth below the block's params */
  height: number;
  type: FuncType;
  unreachable: boolean;
}

/** The deepest operand stack and block nesting of one function body, and the functions it calls. */
function analyseBody(r: Reader, end: number, types: FuncType[], functionTypes: FuncType[], type: FuncType, index: number): FunctionBody {
  let locals = 0;
  for (let groups = r.u32(); groups > 0; groups--) {
    locals += r.u32();
    r.byte();
  }
  const calls = new Set<number>();
  const controls: Control[] = [{ height: 0, type: { params: 0, results: type.results }, unreachable: false }];
  let depth = 0;
  let maxDepth = 0;
  let maxBlocks = 0;
  const apply = (pops: number, pushes: number) => {
    const frame = controls[controls.length - 1];
    // after br, return or unreachable the stack is polymorphic: pops below the block's base take nothing
    depth = frame.unreachable ? Math.max(frame.height, depth - pops) : depth - pops;
    if (depth < frame.height) throw new WasmShapeError(`function ${index} pops below its block at byte ${r.at}`);
    depth += pushes;
    maxDepth = Math.max(maxDepth, depth);
  };
  const enter = (bt: FuncType) => {
    controls.push({ height: depth - bt.params, type: bt, unreachable: false });
    maxBlocks = Math.max(maxBlocks, controls.length - 1);
  };
  const unreachable = () => {
    const frame = controls[controls.length - 1];
    frame.unreachable = true;
    depth = frame.height;
  };
  while (r.at < end) {
    const op = r.byte();
    const simple = simpleEffect(op);
    if (simple !== undefined) {
      if (op >= 0x20 && op <= 0x26) r.u32();
      else if (op >= 0x28 && op <= 0x3e) skipMemarg(r);
      else if (op === 0x3f || op === 0x40) r.byte();
      else if (op === 0x41 || op === 0x42) r.skipSigned();
      else if (op === 0x43) r.skip(4);
      else if (op === 0x44) r.skip(8);
      else if (op === 0xd0) r.byte();
      else if (op === 0xd2) r.u32();
      apply(simple[0], simple[1]);
      continue;
    }
    switch (op) {
      case 0x00:
        unreachable();
        break;
      case 0x02:
      case 0x03:
        enter(blockType(r, types));
        break;
      case 0x04: {
        const bt = blockType(r, types);
        apply(1, 0);
        enter(bt);
        break;
      }
      case 0x05: {
        const frame = controls[controls.length - 1];
        frame.unreachable = false;
        depth = frame.height + frame.type.params;
        break;
      }
      case 0x0b: {
        const frame = controls.pop() as Control;
        depth = frame.height + frame.type.results;
        maxDepth = Math.max(maxDepth, depth);
        if (controls.length === 0) {
          if (r.at !== end) throw new WasmShapeError(`function ${index} ends before its body does`);
          return { type, locals, maxDepth, maxBlocks, calls };
        }
        break;
      }
      case 0x0c:
        r.u32();
        unreachable();
        break;
      case 0x0d:
        r.u32();
        apply(1, 0);
        break;
      case 0x0e:
        for (let n = r.u32() + 1; n > 0; n--) r.u32();
        apply(1, 0);
        unreachable();
        break;
      case 0x0f:
        unreachable();
        break;
      case 0x10: {
        const callee = r.u32();
        const callType = functionTypes[callee];
        if (callType === undefined) throw new WasmShapeError(`function ${index} calls function ${callee}, which does not exist`);
        calls.add(callee);
        apply(callType.params, callType.results);
        break;
      }
      case 0x11: {
        const callType = types[r.u32()];
        r.u32();
        if (callType === undefined) throw new WasmShapeError(`function ${index} has a call_indirect of an unknown type`);
        // any function of that type may be called: the bound counts the deepest of them
        functionTypes.forEach((t, f) => {
          if (t === callType) calls.add(f);
        });
        apply(callType.params + 1, callType.results);
        break;
      }
      case 0x1c:
        for (let n = r.u32(); n > 0; n--) r.byte();
        apply(3, 1);
        break;
      case 0xfc:
        apply(...prefixedEffect(r, r.u32()));
        break;
      case 0xfd:
        throw new WasmShapeError(`function ${index} has SIMD instructions: the stack bound is for scalar builds`);
      default:
        throw new WasmShapeError(`function ${index} has an instruction this reader does not know (0x${op.toString(16)}) at byte ${r.at - 1}`);
    }
  }
  throw new WasmShapeError(`function ${index} has no final end`);
}

export function moduleNeeds(bytes: Uint8Array): ModuleNeeds {
  const r = new Reader(bytes);
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new WasmShapeError("not a wasm module (no \\0asm magic)");
  r.at = 8;
  const types: FuncType[] = [];
  const functionTypes: FuncType[] = [];
  const names = new Map<number, string>();
  let importedFunctions = 0;
  let memory: ModuleNeeds["memory"] | undefined;
  const bodies: FunctionBody[] = [];
  const limits = (s: Reader): ModuleNeeds["memory"] => {
    const flags = s.byte();
    const initialPages = s.u32();
    const maximumPages = flags & 1 ? s.u32() : undefined;
    return { initialPages, maximumPages, initialBytes: initialPages * PAGE_BYTES };
  };
  while (!r.done) {
    const id = r.byte();
    const size = r.u32();
    const end = r.at + size;
    const s = new Reader(bytes, end);
    s.at = r.at;
    switch (id) {
      case 1:
        for (let n = s.u32(); n > 0; n--) {
          if (s.byte() !== 0x60) throw new WasmShapeError("a type that is not a function type");
          const params = s.u32();
          s.skip(params);
          const results = s.u32();
          s.skip(results);
          types.push({ params, results });
        }
        break;
      case 2:
        for (let n = s.u32(); n > 0; n--) {
          s.skip(s.u32());
          s.skip(s.u32());
          const kind = s.byte();
          if (kind === 0) {
            functionTypes.push(types[s.u32()]);
            importedFunctions++;
          } else if (kind === 1) {
            s.byte();
            limits(s);
          } else if (kind === 2) {
            memory = limits(s);
          } else {
            s.skip(2);
          }
        }
        break;
      case 3:
        for (let n = s.u32(); n > 0; n--) functionTypes.push(types[s.u32()]);
        break;
      case 5:
        if (s.u32() > 0) memory = limits(s);
        break;
      case 7:
        for (let n = s.u32(); n > 0; n--) {
          const length = s.u32();
          const name = new TextDecoder().decode(bytes.subarray(s.at, s.at + length));
          s.skip(length);
          const kind = s.byte();
          const index = s.u32();
          if (kind === 0) names.set(index, name);
        }
        break;
      case 10:
        for (let n = s.u32(), k = 0; k < n; k++) {
          const length = s.u32();
          const index = importedFunctions + k;
          bodies[index] = analyseBody(s, s.at + length, types, functionTypes, functionTypes[index], index);
        }
        break;
    }
    r.at = end;
  }
  if (memory === undefined) throw new WasmShapeError("the module has no linear memory");

  const frameOf = (f: number, body: FunctionBody): StackFrame => {
    const values = body.type.params + body.locals + body.maxDepth;
    return {
      name: names.get(f) ?? `function ${f}`,
      values,
      blocks: body.maxBlocks,
      // + 1: the function's body is a block too
      bytes: values * STACK_SLOT_BYTES + (body.maxBlocks + 1) * BLOCK_BYTES + FRAME_HEADER_BYTES,
    };
  };
  const deepest = new Map<number, StackFrame[]>();
  const visiting = new Set<number>();
  const chain = (f: number): StackFrame[] => {
    const known = deepest.get(f);
    if (known) return known;
    const body = bodies[f];
    if (body === undefined) return []; // an import: the host's own code, not on the wasm stack
    if (visiting.has(f)) throw new WasmShapeError(`function ${names.get(f) ?? f} is recursive: no static bound on its stack`);
    visiting.add(f);
    let below: StackFrame[] = [];
    for (const callee of body.calls) {
      const c = chain(callee);
      if (sum(c) > sum(below)) below = c;
    }
    visiting.delete(f);
    const result = [frameOf(f, body), ...below];
    deepest.set(f, result);
    return result;
  };
  let frames: StackFrame[] = [];
  for (const f of names.keys()) {
    const c = chain(f);
    if (sum(c) > sum(frames)) frames = c;
  }
  const headroomBytes = Math.max(0, ...bodies.flatMap((body, f) => (body === undefined ? [] : [frameOf(f, body).bytes])));
  return { memory, stack: { bytes: ENTRY_FRAME_BYTES + sum(frames) + headroomBytes, frames, entryBytes: ENTRY_FRAME_BYTES, headroomBytes } };
}

function sum(frames: StackFrame[]): number {
  return frames.reduce((total, frame) => total + frame.bytes, 0);
}
