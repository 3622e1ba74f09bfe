// Runs in Chromium (vitest.browser.config.ts): how the browser build of the library finds and picks its wasm.
// The default source fetches build/ beside dist/; setWasmSource and wasmFromUrl point it elsewhere; without SIMD,
// "auto" falls back to the scalar build and "on" refuses. Its own file: setWasmSource changes module state.
import { afterEach, expect, it, vi } from "vitest";
import * as phasor from "../../dist/host/index.js";

const model = phasor.randomModel(new phasor.Rng(3), { inputSize: 2, hidden: [7], peephole: false, rOn: 0.5, outputs: 1, mode: "last" });
const BUILD = new URL("/build/", location.href);

afterEach(() => {
  vi.restoreAllMocks();
  phasor.setWasmSource(phasor.wasmFromUrl(BUILD));
});

async function outputAfterOneEvent(options: { simd: "auto" | "on" | "off" }): Promise<{ simd: boolean; y: number }> {
  const engine = await phasor.createEngine(model, { engine: "float", ...options });
  const stream = engine.createStream();
  stream.push(12.5, [0.25, -0.5]);
  const result = { simd: engine.simd, y: stream.output()[0] };
  engine.dispose();
  return result;
}

it("the default source fetches the wasm from build/ beside dist/, with the type compileStreaming needs", async () => {
  const fetched: string[] = [];
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const response = await realFetch(input, init);
    fetched.push(`${new URL(String(input)).pathname} ${response.headers.get("content-type")}`);
    return response;
  });
  vi.spyOn(WebAssembly, "compileStreaming");
  // the first test of its file (vitest gives each browser test file a fresh page): nothing is compiled yet
  const engine = await phasor.createEngine(model, { engine: "float", simd: "off" });
  expect(engine.simd).toBe(false);
  expect(fetched).toEqual(["/build/phasor-scalar.wasm application/wasm"]);
  expect(WebAssembly.compileStreaming).toHaveBeenCalledTimes(1);
});

it('simd "on", "off" and "auto" pick the builds, which agree', async () => {
  const on = await outputAfterOneEvent({ simd: "on" });
  const off = await outputAfterOneEvent({ simd: "off" });
  const auto = await outputAfterOneEvent({ simd: "auto" });
  expect([on.simd, off.simd, auto.simd]).toEqual([true, false, true]);
  expect(Object.is(on.y, off.y) && Object.is(on.y, auto.y)).toBe(true);
});

it('without wasm SIMD, "auto" falls back to the scalar build and "on" fails', async () => {
  vi.spyOn(WebAssembly, "validate").mockReturnValue(false);
  expect(phasor.simdSupported()).toBe(false);
  expect((await outputAfterOneEvent({ simd: "auto" })).simd).toBe(false);
  await expect(outputAfterOneEvent({ simd: "on" })).rejects.toThrow(/does not support SIMD/);
});

it("setWasmSource with wasmFromUrl loads from another folder; a missing one fails with the URL, and not for good", async () => {
  phasor.setWasmSource(phasor.wasmFromUrl("/no-such-folder/"));
  const error = await phasor.createEngine(model, { engine: "float", simd: "off" }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(phasor.PhasorError);
  expect((error as Error).message).toMatch(/\/no-such-folder\/phasor-scalar\.wasm: HTTP 404/);
  phasor.setWasmSource(phasor.wasmFromUrl(BUILD));
  expect((await outputAfterOneEvent({ simd: "off" })).simd).toBe(false);
});

it("a source of the page's own (any bytes it likes) is used as given", async () => {
  const asked: string[] = [];
  phasor.setWasmSource(async (build) => {
    asked.push(build);
    const response = await fetch(new URL(`phasor-${build}.wasm`, BUILD));
    return WebAssembly.compile(await response.arrayBuffer());
  });
  await outputAfterOneEvent({ simd: "on" });
  await outputAfterOneEvent({ simd: "on" });
  expect(asked).toEqual(["simd"]);
});
