/**
 * `phasor export-c`: the microcontroller build and a quantized model as a C header and source for flashing
 * (docs/embedding.md, "Flashing"), with the arena, linear memory and wasm stack they need (tools/cli/c-export.ts).
 * A model that does not fit the module's arena is refused with the bytes it needs and the bytes there are, and
 * nothing is written; both files are replaced whole, or neither.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { PhasorError } from "../../../host/errors.js";
import { buildDirectory } from "../../../host/node.js";
import { KIND_FIXED, withMetadata } from "../../../host/model/plsm.js";
import { mcuBuildFor } from "../../../host/engine/mcu.js";
import { C_IDENTIFIER, cExport, mcuFit, mcuNeeds } from "../c-export.js";
import { defineCommand } from "../command.js";
import { ioReason, readWholeFile, writeFilesAtomically, type WholeFileKind } from "../../../host/files.js";
import { loadModelFile } from "../model-file.js";

const DEFAULT_NAME = "phasor_model";

/** Names whose NAME.h would hide a header the firmware includes beside it (quoted includes look in the includer's
 * folder first, and the guard NAME_H is the other header's too): the C host's files (host/c/), and the wasm C API's
 * headers, the standard's and WAMR's (docs/embedding.md). */
const TAKEN_NAMES: Record<string, string> = {
  phasor_mcu: "phasor_mcu.h and phasor_mcu.c are the C host's own (host/c/)",
  phasor_host: "phasor_host.c is the C host's own (host/c/)",
  csv_events: "csv_events.h and csv_events.c are the C host's own (host/c/)",
  js_number: "js_number.h and js_number.c are the C host's own (host/c/)",
  wasm_api: "wasm_api.h is the C host's own (host/c/)",
  wasm: "wasm.h is the standard wasm C API's header",
  wasm_c_api: "wasm_c_api.h is WAMR's wasm C API header",
};

/** V8 compiles no module larger than 1 GiB (kV8MaxWasmModuleSize), and export-c compiles it to measure its fit. */
const MODULE_FILE: WholeFileKind = { what: "the module", maxBytes: 1 << 30, why: "the largest module V8 compiles", code: "bad-args" };

export const command = defineCommand({
  usage: "--model M.plsm --out DIR [--name NAME] [--mcu MODULE.wasm]",
  description:
    "Writes DIR/NAME.h and DIR/NAME.c: the microcontroller build (build/phasor-mcu.wasm, or build/phasor-mcu-int8.wasm\n" +
    "for a model with int8 weights) and the model's image as\n" +
    "const arrays with their lengths, and macros for what they need of the device: the bytes of the module's arena\n" +
    "the model takes (as the module's own init lays it out), the module's arena and linear memory, and a bound on\n" +
    "the interpreter stack from the module's code. Prints one JSON line with the same numbers. A model that does\n" +
    "not fit the arena is refused with the bytes it needs and the bytes there are. A sensor declaration in the\n" +
    ".plsm's metadata (phasor gateway's, of no use on the device) is left out of the image (\"sensorsLeftOut\": bytes).",
  flags: {
    model: { kind: "string", required: true, value: "M.plsm", help: "the quantized model (from phasor quantize)" },
    out: { kind: "string", required: true, value: "DIR", help: "the directory to write NAME.h and NAME.c into" },
    name: { kind: "string", value: "NAME", help: `stem of the files and of every symbol, a C identifier (default ${DEFAULT_NAME})` },
    mcu: { kind: "string", value: "MODULE.wasm", help: "the module to embed (default the package's build/phasor-mcu.wasm, or build/phasor-mcu-int8.wasm for int8 weights)" },
  },

  async run(flags, io) {
    const name = flags.name ?? DEFAULT_NAME;
    if (!C_IDENTIFIER.test(name)) throw new PhasorError("bad-args", `--name ${name}: must be a C identifier (letters, digits, _; not starting with a digit)`);
    if (Object.hasOwn(TAKEN_NAMES, name)) throw new PhasorError("bad-args", `--name ${name}: ${TAKEN_NAMES[name]}, which the export's files would hide; choose another name`);
    const directory = await stat(flags.out).catch((err: NodeJS.ErrnoException) => {
      // the files go into a directory of the user's: export-c makes none, so that a mistyped path writes nothing
      const why = err.code === "ENOENT" ? "no such directory: export-c writes into one that exists" : ioReason(err);
      throw new PhasorError("bad-args", `--out ${flags.out}: ${why}`);
    });
    if (!directory.isDirectory()) throw new PhasorError("bad-args", `--out ${flags.out}: not a directory`);

    const loaded = await loadModelFile(flags.model);
    if (loaded.format !== "plsm") {
      throw new PhasorError("bad-args", `--model ${flags.model}: a float model; export-c takes a quantized model (.plsm, from phasor quantize)`);
    }
    if (loaded.plsm.kind !== KIND_FIXED) {
      throw new PhasorError("bad-model", `${flags.model}: a float .plsm (kind ${loaded.plsm.kind}); the MCU build runs fixed-point models (kind ${KIND_FIXED}, from phasor quantize)`);
    }
    // the gateway's sensor declaration (docs/plsm.md, metadata) is of no use on the device, and takes arena and flash
    // bytes there (about a hundred for one sensor, where the paper's model leaves 560 bytes of the one-page arena):
    // the image goes without it, which changes no byte the module reads, and the summary says so
    const { sensors, ...meta } = loaded.plsm.meta;
    const image = sensors === undefined ? loaded.plsm.bytes : withMetadata(loaded.plsm, meta);
    const build = mcuBuildFor(image);
    const modulePath = flags.mcu ?? join(buildDirectory(), build);
    let module: Uint8Array<ArrayBuffer>;
    try {
      module = readWholeFile(modulePath, MODULE_FILE);
    } catch (err) {
      throw new PhasorError("bad-args", `--mcu ${(err as PhasorError).message}`);
    }

    const fit = await mcuFit(module, image, modulePath, flags.model);
    const needs = mcuNeeds(module, modulePath);
    const moduleSource = flags.mcu ?? `build/${build}`;
    const { header, source } = cExport({ name, module, image, moduleSource, modelSource: flags.model, fit, needs });
    const headerPath = join(flags.out, `${name}.h`);
    const sourcePath = join(flags.out, `${name}.c`);
    // a header from this run beside a source from another would still compile and run the wrong model
    await writeFilesAtomically([
      { path: headerPath, bytes: new TextEncoder().encode(header) },
      { path: sourcePath, bytes: new TextEncoder().encode(source) },
    ]);
    io.stdout.write(
      JSON.stringify({
        model: flags.model,
        mcu: modulePath,
        header: headerPath,
        source: sourcePath,
        moduleBytes: module.length,
        imageBytes: fit.imageBytes,
        ...(sensors === undefined ? {} : { sensorsLeftOut: loaded.plsm.bytes.length - image.length }),
        arenaUsedBytes: fit.arenaUsedBytes,
        arenaBytes: fit.arenaBytes,
        linearMemoryBytes: needs.memory.initialBytes,
        wasmStackBytes: needs.stack.bytes,
      }) + "\n",
    );
  },
});
