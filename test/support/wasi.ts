/**
 * Running the WASI command (build/phasor-wasi*.wasm, docs/wasi.md) the two ways the suites need: under node:wasi in
 * this process, and on the wasmtime engine through tools/devices/wasmtime-run.py (the Python wheel). Both get the same
 * arguments, stdin and one preopened directory, mapped to ".", and give back the exit status, stdout and stderr.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { WASI } from "node:wasi";

// node 20's WASI functions have V8 fast-call paths that can read and write through a stale view of a module's
// memory once it has grown (nodejs/node#53087): now and then the whole test process died of a segmentation fault.
// Without fast API calls they take the ordinary path, which does not (docs/wasi.md, "Memory").
setFlagsFromString("--no-turbo-fast-api-calls");

export type WasiBuild = "simd" | "scalar";

export const WASI_FILES: Record<WasiBuild, string> = {
  simd: "build/phasor-wasi.wasm",
  scalar: "build/phasor-wasi-scalar.wasm",
};

export interface WasiRun {
  status: number | null;
  stdout: Buffer;
  stderr: string;
  /** the module's memory when it ended (node:wasi only): what it grew to */
  memoryBytes?: number;
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

/**
 * The WASI functions that wasm3 0.9.0 built with its "simple" WASI (-DBUILD_WASI=simple) does not have, of those the
 * command imports: wasm3 links the module all the same and stops with "function body is missing" at the first call
 * (its source/m3_api_wasi.c links only the functions it implements).
 */
export const WASM3_SIMPLE_LACKS = ["fd_sync", "path_filestat_get", "path_rename", "path_unlink_file"];

/**
 * The command under node:wasi, with `dir` preopened as "." (what `wasmtime run --dir .` gives it). The WASI
 * functions named in `lacking` are left out as wasm3 leaves them out: a call to one stops the run (it throws).
 */
export async function runNodeWasi(build: WasiBuild, args: string[], stdin: string | Uint8Array, dir: string, lacking: string[] = []): Promise<WasiRun> {
  const file = WASI_FILES[build];
  let module = compiled.get(file);
  if (!module) {
    module = WebAssembly.compile(readFileSync(file));
    compiled.set(file, module);
  }
  const io = mkdtempSync(join(tmpdir(), "phasor-wasi-io-"));
  writeFileSync(join(io, "stdin"), stdin);
  const fds = [openSync(join(io, "stdin"), "r"), openSync(join(io, "stdout"), "w"), openSync(join(io, "stderr"), "w")];
  try {
    const wasi = new WASI({
      version: "preview1",
      args: ["phasor-wasi", ...args],
      env: {},
      preopens: { ".": dir },
      stdin: fds[0],
      stdout: fds[1],
      stderr: fds[2],
      returnOnExit: true,
    });
    const imports = wasi.getImportObject() as { wasi_snapshot_preview1: Record<string, unknown> };
    for (const name of lacking) {
      imports.wasi_snapshot_preview1[name] = () => {
        throw new Error(`function body is missing: ${name}`);
      };
    }
    const instance = await WebAssembly.instantiate(await module, imports as unknown as WebAssembly.Imports);
    const status = wasi.start(instance);
    fds.forEach((fd) => closeSync(fd));
    fds.length = 0;
    const memoryBytes = (instance.exports.memory as WebAssembly.Memory).buffer.byteLength;
    return { status, stdout: readFileSync(join(io, "stdout")), stderr: readFileSync(join(io, "stderr"), "utf8"), memoryBytes };
  } finally {
    fds.forEach((fd) => closeSync(fd));
    rmSync(io, { recursive: true, force: true });
  }
}

const MISSING_WASMTIME =
  "the wasmtime engine is missing: install the Python wheel with `python3 -m pip install --retries 0 wasmtime` " +
  "(tools/devices/wasmtime-run.py runs WASI commands on it)";

/** Throws, saying how to install it, when the wasmtime wheel cannot be imported. */
export function requireWasmtime(): void {
  const probe = spawnSync("python3", ["-c", "import wasmtime"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) throw new Error(MISSING_WASMTIME);
}

/** The command on the wasmtime engine, as `wasmtime run --dir DIR::. MODULE -- ARGS < stdin`. */
export function runWasmtime(build: WasiBuild, args: string[], stdin: string | Uint8Array, dir: string): WasiRun {
  const run = spawnSync("python3", ["tools/devices/wasmtime-run.py", "run", "--dir", `${dir}::.`, WASI_FILES[build], "--", ...args], {
    input: stdin,
    maxBuffer: 1 << 28,
  });
  if (run.error) throw new Error(`${MISSING_WASMTIME} (${run.error.message})`);
  return { status: run.status, stdout: run.stdout, stderr: run.stderr.toString("utf8") };
}

/** A fresh directory for a run's files (the model, event files), removed by the caller. */
export function scratchDirectory(): string {
  return mkdtempSync(join(tmpdir(), "phasor-wasi-"));
}
