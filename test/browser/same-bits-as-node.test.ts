// Runs in Chromium (vitest.browser.config.ts). Issue 5, item 3: one model, one event stream, every runtime, the
// same bits. The library is loaded as the plain ESM it ships as (dist/host/index.js, wasm fetched and compiled
// while it streams). Node made each case's .plsm images and events and ran them in the global setup
// (node-runs.ts); here the same bytes run in Chromium, and everything is compared byte for byte: y, h and c of
// every layer after every event, the pushBatch outputs, the final state and the counters.
import { describe, expect, inject, it } from "vitest";
import * as phasor from "../../dist/host/index.js";
import { ENGINE_CHOICES, caseFromBits, choiceName, firstDifferentByte, runCase } from "./cases.js";

const nodeRuns = inject("nodeRuns");

function expectSameHex(browser: string, node: string, what: string): void {
  const at = firstDifferentByte(browser, node);
  expect(at, `${what}: Chromium and node differ from byte ${at} (of ${browser.length / 2} and ${node.length / 2})`).toBe(-1);
}

it("Chromium supports wasm SIMD, and auto picks the SIMD build", async () => {
  expect(phasor.simdSupported()).toBe(true);
  const { images } = caseFromBits(nodeRuns[0].bits);
  const engine = await phasor.createEngine(phasor.loadModelBytes(images.fixed, "demo.plsm"));
  expect([engine.kind, engine.simd]).toEqual(["fixed", true]);
  engine.dispose();
});

describe.each(nodeRuns.map((node) => ({ name: node.bits.name, node })))("$name", ({ node }) => {
  const { images, events } = caseFromBits(node.bits);

  it.each(ENGINE_CHOICES.map((choice) => ({ choice, name: choiceName(choice) })))("$name: the same bits as node", async ({ choice, name }) => {
    const browser = await runCase(phasor, images, events, choice);
    const expected = node.runs[name];
    expectSameHex(browser.perEvent, expected.perEvent, `${name}, y, h and c after every event`);
    expectSameHex(browser.batch, expected.batch, `${name}, pushBatch y and h`);
    expectSameHex(browser.snapshot, expected.snapshot, `${name}, final state`);
    expect(browser.stats).toBe(expected.stats);
  });
});
