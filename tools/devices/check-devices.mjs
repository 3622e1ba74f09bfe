// `npm run check:devices -- --iwasm PATH --wasm3 PATH [--wasmtime PATH]`: the same-bits suite's models and
// streams through the scalar WASI command on the wasm runtimes a device would run, each compared byte for byte
// with `phasor run`, and labelled streams with --learn compared with the library's learning (every output and the
// readout's bytes; test/support/device-check.ts, docs/embedding.md). Not part of `npm test`: it needs runtimes
// that neither npm nor Debian provides, and it never builds one. Run through tsx (the npm script), which loads
// the TypeScript it imports.
import { main } from "../../test/support/device-check.ts";

process.exitCode = await main(process.argv.slice(2), process.stdout, process.stderr);
