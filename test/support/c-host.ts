/**
 * The C host (host/c/, docs/embedding.md) compiled with Debian's gcc and linked against the wasmtime engine that the
 * wasmtime Python wheel ships as a shared library, with no headers: host/c/wasm_api.h declares what the host calls,
 * and every function it declares must be a symbol the library exports. Builds go to a fresh directory per call.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const C_HOST_DIR = "host/c";

/** The flags the host is built with: C11, every warning an error. */
export const C_FLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"];

export interface Run {
  status: number | null;
  /** the signal that ended it: SIGKILL when it ran past the deadline */
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** No run of the host or the compiler takes this long: one that waits without end (a read of a FIFO) is killed,
 * so that it fails its test instead of blocking the suite. */
const DEADLINE_MS = 60_000;

function run(command: string, args: string[], input?: string | Uint8Array): Run {
  const result = spawnSync(command, args, { input, maxBuffer: 1 << 28, timeout: DEADLINE_MS, killSignal: "SIGKILL" });
  if (result.error && result.signal === null) throw new Error(`${command} could not be run: ${result.error.message}`);
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr.toString("utf8") };
}

let library: string | undefined;

/** The wheel's _libwasmtime.so, or an error that says how to install the wheel. */
export function wasmtimeLibrary(): string {
  if (library) return library;
  const probe = spawnSync("python3", ["-c", "import wasmtime, os; print(os.path.dirname(wasmtime.__file__))"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    throw new Error("the wasmtime wheel is missing: python3 -m pip install --retries 0 wasmtime (its _libwasmtime.so is the engine the C host links)");
  }
  library = join(probe.stdout.trim(), "linux-x86_64", "_libwasmtime.so");
  return library;
}

/** Names of the functions a C header declares (`type name(...);` at the start of a line). */
export function declaredFunctions(header: string): string[] {
  return [...header.matchAll(/^[a-z_][\w \t*]*?\b(wasm_\w+)\(/gm)].map((m) => m[1]);
}

/** Functions a shared library exports (nm -D --defined-only, code symbols). */
export function exportedFunctions(sharedLibrary: string): Set<string> {
  const nm = run("nm", ["-D", "--defined-only", sharedLibrary]);
  if (nm.status !== 0) throw new Error(`nm -D ${sharedLibrary} failed: ${nm.stderr}`);
  return new Set(nm.stdout.toString("utf8").split("\n").flatMap((line) => {
    const [, kind, name] = line.trim().split(/\s+/);
    return kind === "T" ? [name] : [];
  }));
}

export function hostSources(): string[] {
  return readdirSync(C_HOST_DIR).filter((name) => name.endsWith(".c")).sort().map((name) => join(C_HOST_DIR, name));
}

export interface CHostBuild {
  binary: string;
  /** gcc's output when it failed */
  compiler: Run;
}

/**
 * Compiles the host against the wheel's engine. `embedded` builds it with -DPHASOR_EMBEDDED and the
 * `phasor export-c` files in that directory (phasor_model.h, phasor_model.c).
 */
export function buildCHost(options: { embedded?: string } = {}): CHostBuild {
  const lib = wasmtimeLibrary();
  const out = mkdtempSync(join(tmpdir(), "phasor-c-host-"));
  const binary = join(out, "phasor_host");
  const embedded = options.embedded ? ["-DPHASOR_EMBEDDED", `-I${options.embedded}`, join(options.embedded, "phasor_model.c")] : [];
  const compiler = run("gcc", [...C_FLAGS, `-I${C_HOST_DIR}`, ...embedded, ...hostSources(), "-o", binary, lib, `-Wl,-rpath,${join(lib, "..")}`, "-lm"]);
  return { binary, compiler };
}

/** A built host, or an error with the compiler's messages. */
export function cHost(options: { embedded?: string } = {}): string {
  const build = buildCHost(options);
  if (build.compiler.status !== 0) throw new Error(`gcc failed to build the C host:\n${build.compiler.stderr}`);
  return build.binary;
}

export function runCHost(binary: string, args: string[], stdin?: string | Uint8Array): Run {
  return run(binary, args, stdin ?? "");
}

/** Compiles one C file to an object file with the given flags; the compiler's status and messages. */
export function compileC(file: string, flags: string[]): Run {
  const out = mkdtempSync(join(tmpdir(), "phasor-c-object-"));
  return run("gcc", [...flags, "-c", file, "-o", join(out, "out.o")]);
}

/** The CSV that `phasor run` and the C host read for a fixture's events: seq strings always quoted. */
export function eventsCsv(inputSize: number, t: ArrayLike<number>, x: ArrayLike<number>, seqOf: (event: number) => string | number | undefined): string {
  const header = ["t", ...Array.from({ length: inputSize }, (_, k) => `x${k}`), "seq"].join(",");
  const rows = [header];
  for (let e = 0; e < t.length; e++) {
    const seq = seqOf(e);
    const seqField = seq === undefined ? "" : typeof seq === "number" ? String(seq) : `"${seq.replaceAll('"', '""')}"`;
    const xs = Array.from({ length: inputSize }, (_, k) => String(x[e * inputSize + k]));
    rows.push([String(t[e]), ...xs, seqField].join(","));
  }
  return rows.join("\n") + "\n";
}
