/**
 * A test entry, AssemblyScript source that imports the project's own modules (e.g. `./assembly/fixed/arith`),
 * compiled in memory as the builds compile them (stub runtime, no imports, -O3) and instantiated: the suites that
 * hold a piece of the engine to JavaScript run exactly the code the builds inline.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import asc from "assemblyscript/asc";

export async function compileEntry<T>(name: string, source: string): Promise<T> {
  const entry = `${name}-entry.ts`;
  const config = `${name}-asconfig.json`;
  let binary: Uint8Array<ArrayBuffer> | undefined;
  const { error, stderr } = await asc.main(
    [entry, "--config", config, "--runtime", "stub", "--use", "abort=", "-O3", "--noAssert", "--outFile", `${name}.wasm`],
    {
      readFile: (file: string, baseDir: string) => {
        if (file === entry) return source;
        if (file === config) return "{}";
        try {
          return readFileSync(join(baseDir, file), "utf8");
        } catch {
          return null;
        }
      },
      writeFile: (file: string, contents: Uint8Array | string) => {
        if (file.endsWith(`${name}.wasm`)) binary = Uint8Array.from(contents as Uint8Array);
      },
      listFiles: () => [],
    },
  );
  if (error) throw new Error(`asc: ${error.message}\n${stderr.toString()}`);
  const instance = await WebAssembly.instantiate(new WebAssembly.Module(binary!), {});
  return instance.exports as unknown as T;
}
