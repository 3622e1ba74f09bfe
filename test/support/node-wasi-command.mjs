/**
 * The WASI command (build/phasor-wasi.wasm) under node:wasi in a process of its own, for what a test cannot do in
 * its own process: run it under a file-size limit (`ulimit -f`). "." is preopened, stdio is inherited, and the
 * command's exit status is the process's. SIGXFSZ is ignored, as the C host ignores it, so that a write past the
 * limit fails (EFBIG) instead of ending the process.
 *
 *   node test/support/node-wasi-command.mjs ARGS...
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { WASI } from "node:wasi";

process.on("SIGXFSZ", () => {});
process.removeAllListeners("warning");
const wasm = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "build", "phasor-wasi.wasm");
const wasi = new WASI({ version: "preview1", args: ["phasor-wasi", ...process.argv.slice(2)], env: {}, preopens: { ".": "." }, returnOnExit: true });
const instance = await WebAssembly.instantiate(await WebAssembly.compile(readFileSync(wasm)), wasi.getImportObject());
process.exitCode = wasi.start(instance);
