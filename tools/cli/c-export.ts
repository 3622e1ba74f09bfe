/**
 * The microcontroller build and one model as C source for firmware (`phasor export-c`, docs/embedding.md): the
 * module and the .plsm image as const arrays, and what they need of the device, each found rather than guessed:
 * the arena the model takes is what the module's own init lays out for it (run here on the module that is
 * embedded), the linear memory is the module's declaration, and the wasm stack is the bound tools/cli/wasm-needs.ts
 * reads from the module's code.
 */
import { createHash } from "node:crypto";
import { HEADER_INPUT_SIZE, HEADER_OUTPUT_SIZE } from "../../assembly/contract/plsm.js";
import { PhasorError } from "../../host/errors.js";
import { MCU_FUNCTIONS, MCU_REJECTED, MCU_TOO_BIG, imageHasInt8, mcuBuildFor, type McuExports } from "../../host/engine/mcu.js";
import { missingExports } from "../../host/engine/wasm-source.js";
import { BLOCK_BYTES, FRAME_HEADER_BYTES, STACK_SLOT_BYTES, moduleNeeds, type ModuleNeeds } from "./wasm-needs.js";

/** What the model takes of the module it runs on, as the module's init lays it out. */
export interface McuFit {
  imageBytes: number;
  /** bytes of the module's arena */
  arenaBytes: number;
  /** bytes of the arena the model takes, image included (arenaUsed() after init) */
  arenaUsedBytes: number;
  inputSize: number;
  outputSize: number;
}

/**
 * Instantiates the module, writes the image where the module wants it and runs init. A module that is not the
 * MCU build is "bad-args"; an image it rejects, or one that does not fit its arena, "bad-model" with the bytes
 * needed and the bytes there are.
 */
export async function mcuFit(module: Uint8Array<ArrayBuffer>, image: Uint8Array, moduleName: string, modelName: string): Promise<McuFit> {
  let exports: WebAssembly.Exports;
  try {
    exports = (await WebAssembly.instantiate(await WebAssembly.compile(module), {})).exports;
  } catch (err) {
    throw new PhasorError("bad-args", `${moduleName}: not a module that instantiates without imports: ${(err as Error).message}`);
  }
  const missing = missingExports(exports, MCU_FUNCTIONS);
  const mcu = exports as unknown as McuExports;
  if (missing.length > 0) {
    throw new PhasorError("bad-args", `${moduleName}: not the MCU build (build/phasor-mcu.wasm): it does not export ${missing.join(", ")}`);
  }
  const arenaBytes = mcu.arenaBytes();
  const at = mcu.modelBuffer();
  if (image.length > arenaBytes) {
    throw new PhasorError("bad-model", `${modelName}: does not fit: the image alone is ${image.length} bytes and the module's arena holds ${arenaBytes}`);
  }
  new Uint8Array(mcu.memory.buffer, at, image.length).set(image);
  const status = mcu.init(image.length);
  if (status === MCU_REJECTED) {
    throw new PhasorError(
      "bad-model",
      `${modelName}: the MCU build rejects the image (each MCU build runs fixed-point models, kind 1 from phasor quantize, of one ` +
        `weight width: this one's gate weights are ${imageHasInt8(image) ? "int8" : "int16"}, which build/${mcuBuildFor(image)} runs)`,
    );
  }
  if (status === MCU_TOO_BIG) {
    const needed = mcu.arenaNeeded() >>> 0;
    const why =
      needed === 0
        ? `the image (${image.length} bytes) and the model's records alone need more than the module's ${arenaBytes}-byte arena`
        : `the model needs ${needed} bytes of arena (the image is ${image.length} of them) and the module's arena holds ${arenaBytes}`;
    throw new PhasorError("bad-model", `${modelName}: does not fit: ${why}`);
  }
  if (status !== 0) throw new PhasorError("runtime", `${moduleName}: init answered ${status}, which docs/embedding.md rules out`);
  const header = new DataView(image.buffer, image.byteOffset, image.length);
  return {
    imageBytes: image.length,
    arenaBytes,
    arenaUsedBytes: mcu.arenaUsed(),
    inputSize: header.getUint32(HEADER_INPUT_SIZE, true),
    outputSize: header.getUint32(HEADER_OUTPUT_SIZE, true),
  };
}

/** The module's memory and stack needs, a "bad-args" error when its code cannot be bounded. */
export function mcuNeeds(module: Uint8Array, moduleName: string): ModuleNeeds {
  try {
    return moduleNeeds(module);
  } catch (err) {
    throw new PhasorError("bad-args", `${moduleName}: ${(err as Error).message}`);
  }
}

export interface CExportInput {
  /** stem of the files and of every symbol: NAME.h, NAME.c, NAME_wasm, NAME_PLSM_BYTES, ... */
  name: string;
  module: Uint8Array;
  image: Uint8Array;
  /** the paths the bytes came from, for the files' comments */
  moduleSource: string;
  modelSource: string;
  fit: McuFit;
  needs: ModuleNeeds;
}

/** A C identifier: what --name must be, since it names files and symbols. */
export const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Text that can stand inside a C comment: no comment end, no line break. */
function commentSafe(text: string): string {
  return text.replaceAll("*/", "* /").replace(/[\u0000-\u001f]/g, "?");
}

/** The header and the source, as text. */
export function cExport(input: CExportInput): { header: string; source: string } {
  const { name, fit, needs } = input;
  const moduleSource = commentSafe(input.moduleSource);
  const modelSource = commentSafe(input.modelSource);
  const macro = name.toUpperCase();
  const guard = `${macro}_H`;
  const chain = needs.stack.frames.map((frame) => frame.name).join(" -> ");
  // names this export, so that the .c refuses to compile with a .h of another (the arrays' sizes alone would not:
  // C merges an array declared with a size and defined without one)
  const id = `0x${createHash("sha256").update(input.module).update(input.image).digest("hex").slice(0, 8)}u`;
  const memory = needs.memory;
  const pages = `${memory.initialPages} page${memory.initialPages === 1 ? "" : "s"} of 64 KiB`;
  const maximum = memory.maximumPages === memory.initialPages ? `, maximum the same: it never grows` : memory.maximumPages === undefined ? ", no maximum" : `, maximum ${memory.maximumPages} pages`;
  const header = `/*
 * ${name}.h: written by \`phasor export-c\` from ${modelSource} and ${moduleSource}; do not edit, run it again.
 *
 * Phasor's microcontroller build and one quantized model, for firmware with a wasm runtime (docs/embedding.md):
 * load ${name}_wasm as the module, copy ${name}_plsm to its modelBuffer() and call init(${macro}_PLSM_BYTES).
 * The sizes below are what this module needs for this model, found by running the module's init on it and by
 * reading the module: size the runtime with them. On WAMR, give the stack and no app heap:
 * wasm_instance_new_with_args(store, module, imports, &trap, ${macro}_WASM_STACK_BYTES, 0), or
 * wasm_runtime_instantiate(module, ${macro}_WASM_STACK_BYTES, 0, ...); WAMR's wasm_runtime_load writes into its
 * buffer, so copy ${name}_wasm to RAM for that call (the wasm.h calls copy it themselves).
 */
#ifndef ${guard}
#define ${guard}

#include <stddef.h>

/** Which export this is: ${name}.c checks it against its own. */
#define ${macro}_EXPORT_ID ${id}

/** The module, ${moduleSource}. */
#define ${macro}_WASM_BYTES ${input.module.length}
extern const unsigned char ${name}_wasm[${macro}_WASM_BYTES];
extern const size_t ${name}_wasm_length;

/** The model image (.plsm, docs/plsm.md), ${modelSource}. */
#define ${macro}_PLSM_BYTES ${input.image.length}
extern const unsigned char ${name}_plsm[${macro}_PLSM_BYTES];
extern const size_t ${name}_plsm_length;

/** f32 inputs per event at inputBuffer(), f64 outputs at output(). */
#define ${macro}_INPUT_SIZE ${fit.inputSize}
#define ${macro}_OUTPUT_SIZE ${fit.outputSize}

/** Bytes of the module's arena this model takes once init has laid it out, the image included (arenaUsed()). */
#define ${macro}_ARENA_USED_BYTES ${fit.arenaUsedBytes}
/** Bytes of the module's arena (arenaBytes()), inside its linear memory: the most any model may take. */
#define ${macro}_ARENA_BYTES ${fit.arenaBytes}
/** Linear memory the module declares: ${pages}${maximum}. The runtime allocates it at instantiation. */
#define ${macro}_LINEAR_MEMORY_BYTES ${memory.initialBytes}
/** Interpreter stack that any call of an export fits in: a bound from the module's code (tools/cli/wasm-needs.ts),
 * ${needs.stack.frames.length} frames deep (${chain}) at ${STACK_SLOT_BYTES} bytes per param, local and operand, ${BLOCK_BYTES} per block
 * and ${FRAME_HEADER_BYTES} per header, with the host's entry frame (${needs.stack.entryBytes}) and room for one more frame as large as
 * the module's largest (${needs.stack.headroomBytes}). */
#define ${macro}_WASM_STACK_BYTES ${needs.stack.bytes}

#endif
`;
  const source = `/* ${name}.c: written by \`phasor export-c\` from ${modelSource} and ${moduleSource}; do not edit. */
#include "${name}.h"

/* A .h from another export run fails here: "size of array ... is negative". */
typedef char ${name}_c_and_h_from_the_same_export[${macro}_EXPORT_ID == ${id} ? 1 : -1];

const unsigned char ${name}_wasm[] = {
${bytesAsC(input.module)}
};
const size_t ${name}_wasm_length = sizeof ${name}_wasm;

const unsigned char ${name}_plsm[] = {
${bytesAsC(input.image)}
};
const size_t ${name}_plsm_length = sizeof ${name}_plsm;
`;
  return { header, source };
}

/** Bytes as C initializers, 16 to a line. */
function bytesAsC(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = Array.from(bytes.subarray(at, at + 16), (b) => `0x${b.toString(16).padStart(2, "0")}`);
    lines.push(`  ${row.join(", ")},`);
  }
  return lines.join("\n");
}
