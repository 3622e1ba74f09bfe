// Stream.check (host/engine/engine.ts) tells, without changing anything, what push would do with an event: the same
// error with the same refusal reason, or null when push accepts it. The gateway relies on it to refuse a reading
// before it commits anything of its own (docs/gateway.md), so it must agree with push on every kind of refusal,
// in every engine.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { createEngine } from "../host/engine/create.js";
import type { Engine, Stream } from "../host/engine/engine.js";
import { PhasorError } from "../host/errors.js";
import { Rng, randomModel, randomStream } from "./support/random.js";
import { stateOf, wasmEngine } from "./support/engines.js";

const MODEL = randomModel(new Rng(77), { inputSize: 3, hidden: [10], peephole: true, rOn: 0.2, outputs: 2, mode: "every" });
const EVENTS = randomStream(new Rng(78), { n: 50, inputSize: 3, start: "epoch", maxGap: 20 });

type Kind = "reference" | "float" | "fixed";
const engines: Record<Kind, () => Promise<Engine>> = {
  reference: () => createEngine(MODEL, { engine: "reference" }),
  float: () => wasmEngine("float", MODEL),
  fixed: () => wasmEngine("fixed", MODEL),
};

/** The stream after the first 50 events, t at EVENTS.t[49]. */
function started(engine: Engine, policy: "reject" | "clamp" = "reject"): Stream {
  const stream = engine.createStream({ timePolicy: policy });
  stream.pushBatch(EVENTS.t, EVENTS.x);
  return stream;
}

const last = EVENTS.t[49];
const cases: { name: string; t: unknown; x: unknown; refusal: string | null; policy?: "clamp"; engines?: Kind[] }[] = [
  { name: "a good event", t: last + 1, x: [0.1, -0.2, 0.3], refusal: null },
  { name: "a good event at the previous time", t: last, x: [0, 0, 0], refusal: null },
  { name: "x one short", t: last + 1, x: [0.1, 0.2], refusal: "wrongLength" },
  { name: "x one long", t: last + 1, x: [0.1, 0.2, 0.3, 0.4], refusal: "wrongLength" },
  { name: "NaN t", t: NaN, x: [0, 0, 0], refusal: "nonFinite" },
  { name: "NaN in x", t: last + 1, x: [0, NaN, 0], refusal: "nonFinite" },
  { name: "an input beyond the 32-bit float range", t: last + 1, x: [0, 1e39, 0], refusal: "nonFinite" },
  { name: "a string t", t: String(last + 1), x: [0, 0, 0], refusal: "notNumber" },
  { name: "a string input", t: last + 1, x: [0, "0.5", 0], refusal: "notNumber" },
  { name: "a null x", t: last + 1, x: null, refusal: "notNumber" },
  { name: "a BigInt t", t: BigInt(Math.floor(last + 1)), x: [0, 0, 0], refusal: "notNumber" },
  { name: "t earlier than the previous event", t: last - 1, x: [0, 0, 0], refusal: "timeBackwards" },
  { name: "t earlier, clamp policy", t: last - 1, x: [0, 0, 0], refusal: null, policy: "clamp" },
  // 2^62 ticks after the first event is beyond the clock of both wasm engines, whatever ticks per ms the fixed one has
  { name: "t 1e300 after the first event", t: 1e300, x: [0, 0, 0], refusal: "timeRange", engines: ["float", "fixed"] },
];

describe.each(Object.keys(engines) as Kind[])("%s engine", (kind) => {
  for (const c of cases.filter((c) => !c.engines || c.engines.includes(kind))) {
    it(`check answers as push would, and changes nothing: ${c.name}`, async () => {
      const engine = await engines[kind]();
      const stream = started(engine, c.policy);
      const before = stateOf(stream);
      const answer = stream.check(c.t as number, c.x as number[]);
      const after = stateOf(stream);
      expect(Buffer.from(after.bytes).equals(Buffer.from(before.bytes)), "state bytes after check").toBe(true);
      expect(after.stats).toEqual(before.stats);
      let thrown: unknown = null;
      try {
        stream.push(c.t as number, c.x as number[]);
      } catch (err) {
        thrown = err;
      }
      if (c.refusal === null) {
        expect(answer).toBeNull();
        expect(thrown).toBeNull();
      } else {
        expect(answer).toBeInstanceOf(PhasorError);
        expect(thrown).toBeInstanceOf(PhasorError);
        expect(answer!.refusal).toBe(c.refusal);
        expect((thrown as PhasorError).refusal).toBe(c.refusal);
        expect(answer!.message).toBe((thrown as PhasorError).message);
      }
    });
  }
});
