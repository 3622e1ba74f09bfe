/**
 * Data-parallel training on node's worker_threads. Node-only: host/node.ts installs it into the browser-safe
 * host/training/threads.ts, which is all that training code imports. Every batch is split into chunks balanced by
 * their events; the trainer's own thread and its workers, each with its own wasm trainer of the same shape, take
 * chunks one at a time until none is left and leave each chunk's mean loss and gradient in a slot of shared
 * memory. The batch's loss and gradient are the chunks' weighted by their share of the batch, summed in chunk
 * order in float64.
 *
 * Why the result is the same bit for bit for the same seed and thread count: the chunks depend only on the batch
 * and the chunk count (a function of the thread count), a chunk's gradient only on the chunk and the parameters
 * (every trainer runs the same wasm on the same numbers, whichever thread takes it), and the sum's order is fixed.
 * Taking chunks as they come, rather than one fixed share per thread, keeps a thread that the machine slows
 * (another process on its core) from holding every step back.
 *
 * The parameters travel in shared memory before every evaluation, so the stability guard's probes (the same
 * batch at moved parameters) are evaluated in parallel too. The optimizer stays with the trainer.
 */
import { Worker, MessageChannel, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PhasorError, type ErrorCode } from "../errors.js";
import { compileBuild } from "../engine/wasm-source.js";
import { ThreadsUnavailable, type BatchGradients } from "./threads.js";
import type { Trainer, TrainerOptions, TrainingSample } from "./trainer.js";

/**
 * Chunks per thread: more than one lets a thread that the machine slows take fewer of them; each chunk costs a
 * fixed overhead (packing the parameters, the gradient's scatter and its reduction).
 */
export const CHUNKS_PER_THREAD = 2;

// The control words in shared memory (Int32Array).
export const REQUEST = 0; // the round number; workers wait on it
export const OP = 1;
const CHUNKS = 2; // chunks in this round
const NEXT = 3; // (round mod 2^15) << 16 | the next unclaimed chunk
export const DONE = 4; // chunks finished in this round; the trainer's thread waits on it
const FAILED = 5; // a chunk of this round failed (its message is on the worker's port)
export const EXITED = 6; // workers that have ended
const CONTROL_WORDS = 7;

export const OP_GRADIENT = 1;
export const OP_PREDICT = 2;
export const OP_CLOSE = 3;

/** What a worker needs to build its trainer and reach the shared memory (workerData). */
export interface WorkerSetup {
  module: WebAssembly.Module;
  model: Trainer["model"];
  options: TrainerOptions;
  control: Int32Array;
  theta: Float32Array;
  gradients: Float32Array;
  losses: Float64Array;
  port: MessagePort;
}

/** Messages from the trainer's thread to the workers, read before each round. */
export type ToWorker =
  | { kind: "batch"; id: number; samples: TrainingSample[]; chunks: number[][] }
  | { kind: "predict"; samples: TrainingSample[]; chunks: number[][]; out: Float64Array };

/** A worker's report of a failed chunk (the round's FAILED word is set). */
export interface FromWorker {
  kind: "error";
  code: ErrorCode;
  message: string;
}

/**
 * Chunks of a batch, balanced by events (a chunk's cost is its events): the longest sequences first, each to the
 * chunk with the fewest events so far (the lowest-numbered on a tie), each chunk's samples in the batch's order.
 * Empty chunks are dropped.
 */
export function splitByEvents(samples: TrainingSample[], count: number): number[][] {
  const order = samples.map((_, k) => k).sort((a, b) => samples[b].t.length - samples[a].t.length || a - b);
  const chunks: number[][] = Array.from({ length: Math.min(count, samples.length) }, () => []);
  const events = new Array<number>(chunks.length).fill(0);
  for (const k of order) {
    let least = 0;
    for (let c = 1; c < chunks.length; c++) if (events[c] < events[least]) least = c;
    chunks[least].push(k);
    events[least] += samples[k].t.length;
  }
  return chunks.map((chunk) => chunk.sort((a, b) => a - b));
}

/** Consecutive runs of at most `size` samples: predictions do not depend on which samples share a batch. */
function splitInRuns(n: number, size: number): number[][] {
  const chunks: number[][] = [];
  for (let first = 0; first < n; first += size) chunks.push(Array.from({ length: Math.min(size, n - first) }, (_, k) => first + k));
  return chunks;
}

/**
 * One thread's side of a round: take chunks until none is left, evaluate each on this thread's trainer, count it
 * done. The same code runs on the trainer's thread (theta null: the trainer holds the parameters) and in every
 * worker.
 */
export class ChunkTaker {
  private batch: { id: number; samples: TrainingSample[][] } | null = null;
  private predictJob: { samples: TrainingSample[]; chunks: number[][]; out: Float64Array } | null = null;
  /** the batch and chunk the trainer holds loaded, so that probes of the same batch do not load it again */
  private loadedBatch = -1;
  private loadedChunk = -1;

  constructor(
    private readonly trainer: Trainer,
    private readonly control: Int32Array,
    private readonly gradients: Float32Array,
    private readonly losses: Float64Array,
    private readonly theta: Float32Array | null,
  ) {}

  receive(message: ToWorker): void {
    if (message.kind === "batch") {
      this.batch = { id: message.id, samples: message.chunks.map((chunk) => chunk.map((k) => message.samples[k])) };
    } else {
      this.predictJob = { samples: message.samples, chunks: message.chunks, out: message.out };
    }
  }

  /** The trainer's loaded batch was replaced from outside (the trainer's thread loads whole batches to check them). */
  forgetLoaded(): void {
    this.loadedBatch = -1;
  }

  /** Takes and evaluates chunks of `round` until none is left; a chunk that fails is counted done with FAILED set. */
  work(op: number, round: number, onError: (error: unknown) => void): void {
    let thetaCopied = false;
    for (let k = this.claim(round); k >= 0; k = this.claim(round)) {
      try {
        if (this.theta && !thetaCopied) {
          this.trainer.setParameters(this.theta);
          thetaCopied = true;
        }
        if (op === OP_GRADIENT) {
          this.gradientOf(k);
        } else {
          this.predictionsOf(k);
        }
      } catch (error) {
        Atomics.store(this.control, FAILED, 1);
        onError(error);
      }
      Atomics.add(this.control, DONE, 1);
      Atomics.notify(this.control, DONE);
    }
  }

  private claim(round: number): number {
    const tag = (round & 0x7fff) << 16;
    for (;;) {
      const next = Atomics.load(this.control, NEXT);
      if ((next & ~0xffff) !== tag) return -1;
      const k = next & 0xffff;
      if (k >= Atomics.load(this.control, CHUNKS)) return -1;
      if (Atomics.compareExchange(this.control, NEXT, next, next + 1) === next) return k;
    }
  }

  private gradientOf(k: number): void {
    const batch = this.batch as NonNullable<ChunkTaker["batch"]>;
    if (this.loadedBatch !== batch.id || this.loadedChunk !== k) {
      this.loadedBatch = -1;
      this.trainer.loadBatch(batch.samples[k]);
      this.loadedBatch = batch.id;
      this.loadedChunk = k;
    }
    this.losses[k] = this.trainer.lossAndGradient();
    const P = this.trainer.parameterCount;
    this.gradients.set(this.trainer.gradient(), k * P);
  }

  private predictionsOf(k: number): void {
    const job = this.predictJob as NonNullable<ChunkTaker["predictJob"]>;
    const indices = job.chunks[k];
    const y = this.trainer.predict(indices.map((i) => job.samples[i]));
    const O = this.trainer.model.readout.outputSize;
    indices.forEach((i, n) => job.out.set(y[n], i * O));
  }
}

/** The worker script beside this file; from the sources (vitest) the compiled one in dist/. */
function workerScript(): URL {
  const here = import.meta.url;
  const script = here.endsWith(".ts") ? new URL("../../dist/host/training/parallel-worker.js", here) : new URL("./parallel-worker.js", here);
  if (!existsSync(fileURLToPath(script))) throw new ThreadsUnavailable("runtime", `${fileURLToPath(script)} is missing: run \`npm run build\``);
  return script;
}

function shared<T extends Int32Array | Float32Array | Float64Array>(Kind: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }, length: number): T {
  return new Kind(new SharedArrayBuffer(length * Kind.BYTES_PER_ELEMENT));
}

class ParallelGradients implements BatchGradients {
  private readonly chunkCount: number;
  private readonly control = shared(Int32Array, CONTROL_WORDS);
  private readonly theta: Float32Array;
  private readonly gradients: Float32Array;
  private readonly losses: Float64Array;
  private readonly sum: Float64Array;
  private readonly own: ChunkTaker;
  private workers: { worker: Worker; port: MessagePort }[] = [];
  private round = 0;
  private batchId = 0;
  /** every chunk's share of the loaded batch, or null when none is loaded */
  private weights: number[] | null = null;

  constructor(
    private readonly trainer: Trainer,
    threads: number,
  ) {
    const P = trainer.parameterCount;
    this.chunkCount = Math.min(threads * CHUNKS_PER_THREAD, trainer.batchSize);
    this.theta = shared(Float32Array, P);
    this.gradients = shared(Float32Array, this.chunkCount * P);
    this.losses = shared(Float64Array, this.chunkCount);
    this.sum = new Float64Array(P);
    this.own = new ChunkTaker(trainer, this.control, this.gradients, this.losses, null);
  }

  async start(threads: number): Promise<void> {
    const trainer = this.trainer;
    const module = await compileBuild(trainer.simd ? "train-simd" : "train-scalar");
    const options: TrainerOptions = {
      batchSize: trainer.batchSize,
      maxLength: trainer.maxLength,
      loss: trainer.lossKind,
      simd: trainer.simd,
      timeOrigin: trainer.timeOrigin,
      trainROn: trainer.trainROn,
      tauDirect: trainer.tauDirect,
      skipClosed: trainer.skipClosed,
    };
    const started: Promise<void>[] = [];
    try {
      const script = workerScript();
      for (let n = 1; n < threads; n++) {
        const { port1, port2 } = new MessageChannel();
        const setup: WorkerSetup = { module, model: trainer.model, options, control: this.control, theta: this.theta, gradients: this.gradients, losses: this.losses, port: port2 };
        const worker = new Worker(script, { workerData: setup, transferList: [port2] });
        // a run that forgets close() must not keep the process alive
        worker.unref();
        this.workers.push({ worker, port: port1 });
        const failed = (why: string) => new ThreadsUnavailable("runtime", `training thread ${n} could not start: ${why}`);
        started.push(
          new Promise((resolve, reject) => {
            worker.once("message", (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(failed(m.error ?? "no reason given"))));
            worker.once("error", (error) => reject(failed(error.message)));
            worker.once("exit", (code) => reject(failed(`it ended with exit code ${code}`)));
          }),
        );
      }
      await Promise.all(started);
    } catch (error) {
      await this.close();
      throw error instanceof ThreadsUnavailable ? error : new ThreadsUnavailable("runtime", `training threads could not start: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  loadBatch(samples: TrainingSample[]): void {
    this.weights = null;
    // the whole batch on this thread first: its checks name samples by their place in the batch, and a batch
    // refused here reaches no worker
    this.trainer.loadBatch(samples);
    this.own.forgetLoaded();
    const chunks = splitByEvents(samples, this.chunkCount);
    const message: ToWorker = { kind: "batch", id: ++this.batchId, samples, chunks };
    this.own.receive(message);
    for (const { port } of this.workers) port.postMessage(message);
    this.weights = chunks.map((chunk) => chunk.length / samples.length);
  }

  lossAndGradient(): number {
    const weights = this.weights;
    if (!weights) throw new PhasorError("bad-args", "lossAndGradient(): no batch is loaded");
    this.runRound(OP_GRADIENT, weights.length);
    const P = this.trainer.parameterCount;
    const sum = this.sum.fill(0);
    let loss = 0;
    weights.forEach((w, k) => {
      loss += w * this.losses[k];
      const g = this.gradients.subarray(k * P, (k + 1) * P);
      for (let i = 0; i < P; i++) sum[i] += w * g[i];
    });
    this.trainer.gradient().set(sum);
    return loss;
  }

  predict(samples: TrainingSample[]): Float64Array[] {
    const O = this.trainer.model.readout.outputSize;
    const perChunk = Math.max(1, Math.min(this.trainer.batchSize, Math.ceil(samples.length / this.chunkCount)));
    const chunks = splitInRuns(samples.length, perChunk);
    const out = shared(Float64Array, samples.length * O);
    const message: ToWorker = { kind: "predict", samples, chunks, out };
    this.own.receive(message);
    for (const { port } of this.workers) port.postMessage(message);
    this.runRound(OP_PREDICT, chunks.length);
    return samples.map((_, k) => out.slice(k * O, (k + 1) * O));
  }

  /**
   * One round of `op` over `chunks` chunks at the trainer's parameters, this thread taking chunks too; throws what
   * a chunk threw.
   */
  private runRound(op: number, chunks: number): void {
    const c = this.control;
    if (Atomics.load(c, EXITED) > 0) throw new PhasorError("runtime", "a training thread has ended; start the run again");
    this.theta.set(this.trainer.parameters());
    const round = ++this.round;
    // NEXT first: a thread still inside the last round's claim() (preempted after its last chunk) then fails its
    // compare-exchange, rather than claiming a chunk number that the new CHUNKS makes valid and counting it in the
    // new round's DONE
    Atomics.store(c, NEXT, (round & 0x7fff) << 16);
    Atomics.store(c, OP, op);
    Atomics.store(c, CHUNKS, chunks);
    Atomics.store(c, DONE, 0);
    Atomics.store(c, FAILED, 0);
    Atomics.store(c, REQUEST, round);
    Atomics.notify(c, REQUEST);
    let ownError: unknown = null;
    this.own.work(op, round, (error) => {
      ownError ??= error;
    });
    // every chunk must be finished before the next round resets the counters, also when this thread's failed
    for (let done = Atomics.load(c, DONE); done < chunks; done = Atomics.load(c, DONE)) {
      if (Atomics.load(c, EXITED) > 0) throw new PhasorError("runtime", "a training thread ended in the middle of a step");
      Atomics.wait(c, DONE, done, 1000);
    }
    // every report of this round is read, so that none is left to be taken for a later round's
    const reports: FromWorker[] = [];
    if (Atomics.load(c, FAILED)) {
      for (const { port } of this.workers) {
        for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) reports.push(m.message as FromWorker);
      }
    }
    if (ownError) throw ownError;
    if (reports.length) throw new PhasorError(reports[0].code, reports[0].message);
  }

  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    if (workers.length === 0) return;
    Atomics.store(this.control, OP, OP_CLOSE);
    Atomics.add(this.control, REQUEST, 1);
    Atomics.notify(this.control, REQUEST);
    await Promise.all(workers.map(({ worker }) => worker.terminate()));
  }
}

/** threads.ts's ThreadedGradients: `threads` - 1 workers beside the trainer's own thread. */
export async function parallelGradients(trainer: Trainer, threads: number): Promise<BatchGradients> {
  const parallel = new ParallelGradients(trainer, threads);
  await parallel.start(threads);
  return parallel;
}
