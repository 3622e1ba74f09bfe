/**
 * A training thread of host/training/parallel.ts, node-only like it: a wasm trainer of the run's shape that takes
 * chunks of every round until told to stop. It reads its setup from workerData, says it is ready (or why not) on
 * its parent port, and reports a chunk that failed on the port it was given.
 */
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { PhasorError } from "../errors.js";
import { setWasmSource } from "../engine/wasm-source.js";
import { ChunkTaker, DONE, EXITED, OP, OP_CLOSE, REQUEST, type FromWorker, type ToWorker, type WorkerSetup } from "./parallel.js";
import { Trainer } from "./trainer.js";

const setup = workerData as WorkerSetup;
const control = setup.control;
// however this thread ends, the trainer's thread stops waiting for it
process.on("exit", () => {
  Atomics.add(control, EXITED, 1);
  Atomics.notify(control, DONE);
});

async function main(): Promise<void> {
  // the trainer's thread compiled the build it uses; this thread instantiates the same module
  setWasmSource(async () => setup.module);
  let trainer: Trainer;
  try {
    trainer = await Trainer.create(setup.model, setup.options);
    if (trainer.parameterCount !== setup.theta.length) throw new PhasorError("runtime", `the worker's trainer has ${trainer.parameterCount} parameters, the run ${setup.theta.length}`);
  } catch (error) {
    parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) });
    return;
  }
  parentPort?.postMessage({ ready: true });
  const taker = new ChunkTaker(trainer, control, setup.gradients, setup.losses, setup.theta);
  const report = (error: unknown) => {
    const message: FromWorker = {
      kind: "error",
      code: error instanceof PhasorError ? error.code : "runtime",
      message: error instanceof Error ? error.message : String(error),
    };
    setup.port.postMessage(message);
  };
  let seen = 0;
  for (;;) {
    Atomics.wait(control, REQUEST, seen);
    seen = Atomics.load(control, REQUEST);
    for (let m = receiveMessageOnPort(setup.port); m; m = receiveMessageOnPort(setup.port)) taker.receive(m.message as ToWorker);
    const op = Atomics.load(control, OP);
    if (op === OP_CLOSE) break;
    taker.work(op, seen, report);
  }
  setup.port.close();
}

void main();
