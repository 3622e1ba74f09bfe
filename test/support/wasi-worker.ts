/**
 * A worker thread that runs the WASI command under node:wasi (runNodeWasi), one run per message, for the fuzz
 * suite: a thread of its own, so that the test can stop a run that never ends (worker.terminate()) and name the
 * case instead of hanging with it. The test registers tsx's loader in the worker before it imports this file.
 */
import { parentPort } from "node:worker_threads";
import { runNodeWasi, type WasiBuild } from "./wasi.js";

interface Request {
  id: number;
  build: WasiBuild;
  args: string[];
  stdin: Uint8Array;
  dir: string;
}

parentPort!.on("message", async ({ id, build, args, stdin, dir }: Request) => {
  try {
    parentPort!.postMessage({ id, ...(await runNodeWasi(build, args, stdin, dir)) });
  } catch (err) {
    // a trap: what the fuzz suite must never see, reported as such
    parentPort!.postMessage({ id, status: null, trap: String(err), stdout: new Uint8Array(0), stderr: "" });
  }
});
