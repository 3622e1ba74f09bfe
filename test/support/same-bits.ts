/**
 * The quantized models and event streams that every runtime and build must run to the same bits
 * (test/same-bits-everywhere.test.ts, the C host's suite, and the device check `npm run check:devices`):
 * several layers, epoch-millisecond and zero time origins, several sequences with string, integer and absent
 * seq ids, sparse inputs. Seeded: the same fixtures on every machine.
 */
import { createEngine, loadModelBytes } from "../../host/engine/create.js";
import { quantize } from "../../host/model/quantize.js";
import { calibrationStreams } from "./engines.js";
import { Rng, randomModel, randomStream, type RandomModelOptions, type RandomStreamOptions } from "./random.js";

export interface SameBitsFixture {
  /** what the fixture holds, for test names and reports */
  name: string;
  image: Uint8Array;
  inputSize: number;
  outputSize: number;
  /** hidden size of the last layer */
  hiddenSize: number;
  t: Float64Array;
  /** event-major, inputSize values per event */
  x: Float32Array;
  /** index of the first event of each sequence */
  starts: Set<number>;
  /** the seq id of each sequence, in order (undefined: no seq) */
  seqs: (string | number | undefined)[];
  ndjson: string;
}

interface SequenceSpec {
  seq: string | number | undefined;
  stream: Omit<RandomStreamOptions, "inputSize">;
}

function build(name: string, seed: number, calibrationSeed: number, model: Omit<RandomModelOptions, "mode" | "alpha">, sequences: SequenceSpec[]): SameBitsFixture {
  const rng = new Rng(seed);
  const float = randomModel(rng, { ...model, mode: "every", alpha: 0 });
  const inputSize = model.inputSize;
  const { bytes } = quantize(float, calibrationStreams(calibrationSeed, inputSize), "same-bits");
  const t: number[] = [];
  const x: number[] = [];
  const starts = new Set<number>();
  const lines: string[] = [];
  for (const { seq, stream: options } of sequences) {
    const stream = randomStream(rng, { ...options, inputSize });
    starts.add(t.length);
    for (let e = 0; e < stream.t.length; e++) {
      const xs = Array.from(stream.x.subarray(e * inputSize, (e + 1) * inputSize));
      t.push(stream.t[e]);
      x.push(...xs);
      lines.push(JSON.stringify({ t: stream.t[e], x: xs, ...(seq === undefined ? {} : { seq }) }));
    }
  }
  return {
    name,
    image: bytes,
    inputSize,
    outputSize: model.outputs,
    hiddenSize: model.hidden[model.hidden.length - 1],
    t: Float64Array.from(t),
    x: Float32Array.from(x),
    starts,
    seqs: sequences.map((s) => s.seq),
    ndjson: lines.join("\n") + "\n",
  };
}

export function sameBitsFixtures(): SameBitsFixture[] {
  return [
    // string, integer and absent seq ids; epoch and zero origins; one sequence with sparse inputs
    build("H=32 I=4, 1 layer with peepholes, 4 sequences", 20260, 77, { inputSize: 4, hidden: [32], peephole: true, rOn: 0.1, outputs: 3 }, [
      { seq: "sensor-a", stream: { n: 300, start: "epoch" } },
      { seq: 17, stream: { n: 300, start: 0, sparsity: 0.6 } },
      { seq: "b\u00e9\u{1F600}", stream: { n: 300, start: "epoch" } },
      { seq: undefined, stream: { n: 300, start: 0 } },
    ]),
    build("H=24,16 I=2, 2 layers, epoch ms", 4242, 78, { inputSize: 2, hidden: [24, 16], peephole: true, rOn: 0.2, outputs: 2 }, [
      { seq: 1, stream: { n: 250, start: "epoch" } },
      { seq: 2, stream: { n: 250, start: "epoch", gaps: "regular", gap: 1 } },
      { seq: "has, a comma and \"quotes\"", stream: { n: 250, start: "epoch", maxGap: 50 } },
    ]),
    build("H=8,12,6 I=3, 3 layers, epoch ms", 777, 79, { inputSize: 3, hidden: [8, 12, 6], peephole: false, rOn: 0.5, outputs: 4 }, [
      { seq: "x", stream: { n: 200, start: "epoch", minGap: 0.001, maxGap: 5 } },
      { seq: "y", stream: { n: 200, start: "epoch" } },
    ]),
  ];
}

/** y and h after every event from the library's fixed engine, one sequence after another. */
export async function libraryRun(f: SameBitsFixture, simd: "on" | "off"): Promise<{ y: Float64Array; h: Float64Array }> {
  const engine = await createEngine(loadModelBytes(f.image, "same-bits.plsm"), { engine: "fixed", simd });
  const stream = engine.createStream();
  const n = f.t.length;
  const { inputSize, outputSize, hiddenSize } = f;
  const y = new Float64Array(n * outputSize);
  const h = new Float64Array(n * hiddenSize);
  const bounds = [...f.starts, n];
  for (let s = 0; s + 1 < bounds.length; s++) {
    const [a, b] = [bounds[s], bounds[s + 1]];
    stream.reset();
    stream.pushBatch(f.t.subarray(a, b), f.x.subarray(a * inputSize, b * inputSize), y.subarray(a * outputSize, b * outputSize), h.subarray(a * hiddenSize, b * hiddenSize));
  }
  engine.dispose();
  return { y, h };
}

/** Index of the first value that is not the same double (or the shorter length when one list is longer), -1 when
 * all are. */
export function firstBitDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (!Object.is(a[i], b[i])) return i;
  return a.length === b.length ? -1 : Math.min(a.length, b.length);
}

/** The seq id of every event, from the fixture's sequences. */
export function seqOfEvents(f: SameBitsFixture): (string | number | undefined)[] {
  const bounds = [...f.starts, f.t.length];
  return f.seqs.flatMap((seq, s) => Array.from({ length: bounds[s + 1] - bounds[s] }, () => seq));
}
