/**
 * Where the compiled wasm comes from. In a browser the builds are fetched next to the library; under node,
 * host/node.ts installs a reader of the files in build/. Either way a build is compiled once per process.
 */
export type Build = "simd" | "scalar";

export type WasmSource = (build: Build) => Promise<WebAssembly.Module>;

let source: WasmSource = async (build) => {
  const url = new URL(`../../build/phasor-${build}.wasm`, import.meta.url);
  return WebAssembly.compileStreaming(fetch(url));
};
const compiled = new Map<Build, Promise<WebAssembly.Module>>();

export function setWasmSource(next: WasmSource): void {
  source = next;
  compiled.clear();
}

export function compileBuild(build: Build): Promise<WebAssembly.Module> {
  let module = compiled.get(build);
  if (!module) {
    module = source(build);
    compiled.set(build, module);
  }
  return module;
}

// The smallest module that uses a SIMD instruction (i32x4.splat): valid exactly where SIMD is supported.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 8, 1, 6, 0, 65, 0, 253, 17, 11]);

export function simdSupported(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}
