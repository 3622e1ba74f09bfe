/**
 * Where a training run's batch gradients are computed: on the trainer's own thread, or (settings.threads > 1)
 * split among threads, each with its own wasm trainer (data parallelism). Browser-safe: the threads themselves are
 * node's worker_threads (host/training/parallel.ts), which host/node.ts installs here; without them a run asks for
 * one thread or is refused.
 */
import { PhasorError, wholeNumber } from "../errors.js";
import type { Trainer, TrainingSample } from "./trainer.js";

/** The most threads a run may ask for. */
export const MAX_THREADS = 256;

/**
 * The part of a trainer a training step uses to evaluate its batch. The gradient is left in the trainer's own
 * gradient(), the parameters are read from its parameters() at every call (the stability guard's probes move them
 * between calls), and the optimizer's step stays with the trainer.
 */
export interface BatchGradients {
  /** the batch that every later lossAndGradient() evaluates (1 .. the trainer's batchSize samples) */
  loadBatch(samples: TrainingSample[]): void;
  /** the loaded batch's mean loss at the trainer's parameters; its gradient into the trainer's gradient() */
  lossAndGradient(): number;
  /** Trainer.predict at the trainer's parameters */
  predict(samples: TrainingSample[]): Float64Array[];
  /** ends the threads (nothing on one thread); the trainer stays usable */
  close(): Promise<void>;
}

/**
 * The threads a run asked for could not be had: there are no worker threads here, or one failed to start. Nothing
 * was trained yet, so a caller that must end with a model (the main job) can go on on one thread.
 */
export class ThreadsUnavailable extends PhasorError {}

export type ThreadedGradients = (trainer: Trainer, threads: number) => Promise<BatchGradients>;

let threaded: ThreadedGradients | null = null;

/** Installs the threads that batchGradients() uses for more than one thread (host/node.ts does). */
export function setThreadedGradients(next: ThreadedGradients): void {
  threaded = next;
}

/** The trainer itself for one thread; more split every batch among that many threads. */
export async function batchGradients(trainer: Trainer, threads: number): Promise<BatchGradients> {
  wholeNumber("threads", threads, 1, MAX_THREADS);
  if (threads === 1) {
    return {
      loadBatch: (samples) => trainer.loadBatch(samples),
      lossAndGradient: () => trainer.lossAndGradient(),
      predict: (samples) => trainer.predict(samples),
      close: async () => {},
    };
  }
  if (!threaded) {
    throw new ThreadsUnavailable("bad-args", `threads ${threads}: training on more than one thread needs node's worker threads (the library's node entry); here it trains on one`);
  }
  return threaded(trainer, threads);
}
