/**
 * What the engines' and the trainer's modules share on the host side: where the compiled wasm comes from, which
 * build a SIMD choice selects, and a module's last error message. In a browser the builds are fetched next to the
 * library; under node, host/node.ts installs a reader of the files in build/. Either way a build is compiled once
 * per process.
 */
import type { SimdChoice } from "./engine.js";
import { PhasorError, givenText, quote } from "../errors.js";

export type Build = "simd" | "scalar";

/** The trainer's builds (assembly/train.ts), from the same two targets. */
export type TrainBuild = "train-simd" | "train-scalar";

/** Every compiled module; the file of each is build/phasor-<name>.wasm. */
export type ModuleName = Build | TrainBuild;

export type WasmSource = (build: ModuleName) => Promise<WebAssembly.Module>;

/**
 * A source that fetches phasor-<name>.wasm from the folder `base` (a URL ending in "/"; a relative one is read
 * against the page) and compiles it while it downloads. For pages that serve the wasm somewhere else than
 * beside the library: `setWasmSource(wasmFromUrl("/static/wasm/"))`.
 */
export function wasmFromUrl(base: string | URL): WasmSource {
  if (typeof base !== "string" && !(base instanceof URL)) throw new PhasorError("bad-args", `wasmFromUrl: expected the wasm folder's URL (a string or a URL), got ${givenText(base)}`);
  let folder: URL;
  try {
    folder = new URL(base, globalThis.location?.href);
  } catch (err) {
    throw new PhasorError("bad-args", `wasmFromUrl: ${quote(String(base))} is not a URL${globalThis.location ? "" : " (a relative one needs a page to be read against)"}: ${(err as Error).message}`);
  }
  // "/static/wasm" would be read as the file "wasm" in /static/, and the builds fetched from /static/
  if (!folder.pathname.endsWith("/")) {
    throw new PhasorError("bad-args", `wasmFromUrl: ${quote(String(base))} is a folder's URL without its final "/": the wasm would be fetched from the folder above it`);
  }
  return async (build) => {
    const url = new URL(`phasor-${build}.wasm`, folder);
    const response = await fetch(url);
    if (!response.ok) {
      throw new PhasorError("runtime", `${url}: HTTP ${response.status}; serve the package's build/ folder beside dist/, or point setWasmSource() at the wasm`);
    }
    // compileStreaming rejects any Content-Type but application/wasm; a server that sends another gets the bytes compiled whole
    if (response.headers.get("content-type")?.split(";")[0].trim() === "application/wasm") return WebAssembly.compileStreaming(response);
    return WebAssembly.compile(await response.arrayBuffer());
  };
}

/**
 * The package's build/ folder: three levels up from dist/host/engine/wasm-source.js (the compiled library, also
 * when it is served as plain ESM), two levels up from host/engine/wasm-source.ts (the sources, as vite serves them).
 */
const BUILD_FOLDER = new URL(new URL(import.meta.url).pathname.endsWith(".ts") ? "../../build/" : "../../../build/", import.meta.url);

let source: WasmSource = wasmFromUrl(BUILD_FOLDER);
const compiled = new Map<ModuleName, Promise<WebAssembly.Module>>();

export function setWasmSource(next: WasmSource): void {
  // checked here: otherwise the next createEngine, wherever it is, fails with "source is not a function"
  if (typeof next !== "function") throw new PhasorError("bad-args", `setWasmSource: expected a function (build) => Promise<WebAssembly.Module>, such as wasmFromUrl(...), got ${next === null ? "null" : typeof next}`);
  source = next;
  compiled.clear();
}

export function compileBuild(build: ModuleName): Promise<WebAssembly.Module> {
  let module = compiled.get(build);
  if (!module) {
    const pending = source(build);
    compiled.set(build, pending);
    // a failed fetch is not kept: the next engine asks again (networks recover; the file may have been missing)
    pending.catch(() => {
      if (compiled.get(build) === pending) compiled.delete(build);
    });
    module = pending;
  }
  return module;
}

/**
 * Every function of a host's view T of a module's exports, by name: a literal of this type must name each one and
 * nothing else, so the list and the type cannot drift apart.
 */
export type ExportedFunctions<T> = Record<Exclude<keyof T, "memory">, true>;

/**
 * The exports of an instance as the host's view of them (T), after checking that every function of T is there,
 * and a memory: a build from another version of the sources is refused at once, naming what it lacks, rather than
 * failing at the first call of a missing export. Each host keeps one list of the exports it calls
 * (host/engine/wasm.ts, host/engine/mcu.ts); the modules define them (assembly/index.ts, assembly/mcu.ts), and
 * test/builds-are-what-they-claim.test.ts holds each build to its list exactly.
 */
export function requireExports<T>(exports: WebAssembly.Exports, functions: ExportedFunctions<T>, module: string): T {
  const missing = missingExports(exports, functions);
  if (missing.length > 0) {
    throw new PhasorError("runtime", `${module}: the module does not export ${missing.join(", ")}: it is not a build of these sources (run \`npm run build\`)`);
  }
  return exports as unknown as T;
}

/** What of T's functions, and of a memory, an instance does not export. */
export function missingExports<T>(exports: WebAssembly.Exports, functions: ExportedFunctions<T>): string[] {
  const missing = Object.keys(functions).filter((name) => typeof exports[name] !== "function");
  if (!(exports.memory instanceof WebAssembly.Memory)) missing.push("memory");
  return missing;
}

// The smallest module that uses a SIMD instruction (i32x4.splat): valid exactly where SIMD is supported.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 8, 1, 6, 0, 65, 0, 253, 17, 11]);

export function simdSupported(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}

/**
 * Whether a SIMD choice selects the SIMD build: "auto" where the runtime supports SIMD, "on" always (an error
 * where it does not: `flag` names the choice as the caller knows it), "off" never.
 */
export function useSimd(choice: SimdChoice, flag: string): boolean {
  const supported = simdSupported();
  if (choice === "on" && !supported) throw new PhasorError("runtime", `${flag} on: this WebAssembly runtime does not support SIMD`);
  return choice !== "off" && supported;
}

/** The exports through which every module built from assembly/ gives its last error (assembly/errors.ts). */
export interface ErrorExports {
  memory: WebAssembly.Memory;
  errorPtr(): number;
  errorLen(): number;
}

/** A module's last error message: ASCII text in a static buffer of its memory. */
export function moduleError(exports: ErrorExports): string {
  return new TextDecoder().decode(new Uint8Array(exports.memory.buffer, exports.errorPtr(), exports.errorLen()));
}
