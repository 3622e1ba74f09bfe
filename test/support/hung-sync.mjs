// Preloaded (node --import) into a CLI process that a test stops while it writes a file: every FileHandle.sync()
// (writeFileAtomically flushes each partial file with one before renaming it) says "syncing" on stderr and never
// returns, so the process is held with a partial file on disk for the test to signal it there.
import { open } from "node:fs/promises";

const probe = await open(process.execPath, "r");
const FileHandle = Object.getPrototypeOf(probe);
await probe.close();
FileHandle.sync = function () {
  process.stderr.write("syncing\n");
  // a timer keeps the process alive while the promise stays pending, as a slow disk would
  return new Promise(() => setInterval(() => undefined, 1000));
};
