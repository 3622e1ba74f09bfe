/**
 * One quantized model and one event stream give the same bits on every runtime and build (plstm.md section 3):
 * the library's fixed engine (SIMD and scalar builds), the WASI command under node:wasi and on the wasmtime
 * engine (SIMD and scalar builds each), and the microcontroller build driven from node. The four WASI runs print
 * the same bytes; every y and h they print reads back as exactly the library's double.
 */
import "../host/node.js";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/create.js";
import { quantize } from "../host/quantize.js";
import { calibrationStreams } from "./support/engines.js";
import { mcuInstance, mcuLoad, mcuRun } from "./support/mcu.js";
import { Rng, randomModel, randomStream } from "./support/random.js";
import { requireWasmtime, runNodeWasi, runWasmtime, scratchDirectory, type WasiBuild, type WasiRun } from "./support/wasi.js";

const INPUT = 4;
const HIDDEN = 32;
const OUTPUTS = 3;

interface Fixture {
  image: Uint8Array;
  t: Float64Array;
  x: Float32Array;
  /** index of the first event of each sequence */
  starts: Set<number>;
  ndjson: string;
}

/** Four sequences: string, integer and absent seq ids; epoch and zero origins; one with sparse inputs. */
function fixture(): Fixture {
  const rng = new Rng(20260);
  const model = randomModel(rng, { inputSize: INPUT, hidden: [HIDDEN], peephole: true, rOn: 0.1, outputs: OUTPUTS, mode: "every", alpha: 0 });
  const { bytes } = quantize(model, calibrationStreams(77, INPUT), "same-bits");
  const seqs: (string | number | undefined)[] = ["sensor-a", 17, "b\u00e9\u{1F600}", undefined];
  const t: number[] = [];
  const x: number[] = [];
  const starts = new Set<number>();
  const lines: string[] = [];
  seqs.forEach((seq, k) => {
    const stream = randomStream(rng, { n: 300, inputSize: INPUT, start: k % 2 ? 0 : "epoch", sparsity: k === 1 ? 0.6 : 0 });
    starts.add(t.length);
    for (let e = 0; e < stream.t.length; e++) {
      const xs = Array.from(stream.x.subarray(e * INPUT, (e + 1) * INPUT));
      t.push(stream.t[e]);
      x.push(...xs);
      lines.push(JSON.stringify({ t: stream.t[e], x: xs, ...(seq === undefined ? {} : { seq }) }));
    }
  });
  return { image: bytes, t: Float64Array.from(t), x: Float32Array.from(x), starts, ndjson: lines.join("\n") + "\n" };
}

/** y and h after every event from the library's fixed engine, one sequence after another. */
async function libraryRun(f: Fixture, simd: "on" | "off"): Promise<{ y: Float64Array; h: Float64Array }> {
  const engine = await createEngine(loadModelBytes(f.image, "same-bits.plsm"), { engine: "fixed", simd });
  const stream = engine.createStream();
  const n = f.t.length;
  const y = new Float64Array(n * OUTPUTS);
  const h = new Float64Array(n * HIDDEN);
  const bounds = [...f.starts, n];
  for (let s = 0; s + 1 < bounds.length; s++) {
    const [a, b] = [bounds[s], bounds[s + 1]];
    stream.reset();
    stream.pushBatch(f.t.subarray(a, b), f.x.subarray(a * INPUT, b * INPUT), y.subarray(a * OUTPUTS, b * OUTPUTS), h.subarray(a * HIDDEN, b * HIDDEN));
  }
  engine.dispose();
  return { y, h };
}

function parsed(run: WasiRun): { y: number[]; h: number[] } {
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  const y: number[] = [];
  const h: number[] = [];
  for (const line of run.stdout.toString("utf8").trimEnd().split("\n")) {
    const record = JSON.parse(line) as { y: number[]; h: number[] };
    y.push(...record.y);
    h.push(...record.h);
  }
  return { y, h };
}

/** Index of the first value that is not the same double, -1 when all are. */
function firstBitDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

describe("one model, one event stream, the same bits on every runtime", () => {
  const f = fixture();
  let dir = "";
  beforeAll(() => {
    dir = scratchDirectory();
    writeFileSync(join(dir, "m.plsm"), f.image);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the library's SIMD and scalar builds, the WASI builds under node:wasi and wasmtime, and the MCU build agree", async () => {
    const library = await libraryRun(f, "on");
    const scalar = await libraryRun(f, "off");
    expect(firstBitDifference(scalar.y, library.y)).toBe(-1);
    expect(firstBitDifference(scalar.h, library.h)).toBe(-1);

    requireWasmtime();
    const args = ["--model", "m.plsm", "--hidden"];
    const runs: [string, WasiRun][] = [];
    for (const build of ["simd", "scalar"] as WasiBuild[]) {
      runs.push([`node:wasi ${build}`, await runNodeWasi(build, args, f.ndjson, dir)]);
      runs.push([`wasmtime ${build}`, runWasmtime(build, args, f.ndjson, dir)]);
    }
    const [first, reference] = runs[0];
    for (const [name, run] of runs) {
      expect(run.stderr, name).toBe("");
      expect(run.status, name).toBe(0);
      expect(run.stdout.equals(reference.stdout), `${name} prints the bytes ${first} prints`).toBe(true);
    }
    const printed = parsed(reference);
    expect(printed.y).toHaveLength(f.t.length * OUTPUTS);
    expect(firstBitDifference(printed.y, library.y)).toBe(-1);
    expect(firstBitDifference(printed.h, library.h)).toBe(-1);

    const mcu = await mcuInstance();
    expect(mcuLoad(mcu, f.image)).toBe(0);
    expect(firstBitDifference(mcuRun(mcu, f.t, f.x, INPUT, OUTPUTS, f.starts), library.y)).toBe(-1);
  });
});
