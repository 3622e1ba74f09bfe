/**
 * The MCU build's arenaNeeded() (docs/embedding.md) is the arena a model takes: after a successful init the bytes
 * in use, and after init refused a model as too big, the least arena that runs it: exactly what init lays out for
 * it in a build with that arena (there, with no room for row pairs). It is 0 when that is not known: before init,
 * after a rejected image, for an image longer than the arena.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MCU_REJECTED, MCU_TOO_BIG } from "../host/engine/mcu.js";
import { quantize } from "../host/model/quantize.js";
import { calibrationStreams } from "./support/engines.js";
import { mcuBuildWithArena, mcuInstance, mcuLoad, type McuExports } from "./support/mcu.js";
import { Rng, randomModel } from "./support/random.js";
import { sameBitsFixtures } from "./support/same-bits.js";

const dir = mkdtempSync(join(tmpdir(), "phasor-mcu-arena-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A model of two layers whose first has 110 units: about 115 KB of image, more than the arena can hold with it. */
function tooBigImage(): Uint8Array {
  const model = randomModel(new Rng(8), { inputSize: 1, hidden: [110, 8], peephole: true, rOn: 0.05, outputs: 2, mode: "every", alpha: 0 });
  return quantize(model, calibrationStreams(8, 1, 1, 200), "too-big").bytes;
}

describe("arenaNeeded()", () => {
  it("is 0 before init and equals arenaUsed() after every successful init", async () => {
    const mcu = await mcuInstance();
    expect(mcu.arenaNeeded()).toBe(0);
    for (const f of sameBitsFixtures()) {
      expect(mcuLoad(mcu, f.image)).toBe(0);
      expect(mcu.arenaUsed()).toBeGreaterThan(f.image.length);
      expect(mcu.arenaNeeded()).toBe(mcu.arenaUsed());
    }
  });

  it("is 0 after a rejected image and for an image longer than the arena", async () => {
    const mcu = await mcuInstance();
    const damaged = Uint8Array.from(sameBitsFixtures()[0].image);
    damaged[100] ^= 1;
    expect(mcuLoad(mcu, damaged)).toBe(MCU_REJECTED);
    expect(mcu.arenaNeeded()).toBe(0);
    expect(mcu.init(mcu.arenaBytes() + 1)).toBe(MCU_TOO_BIG);
    expect(mcu.arenaNeeded()).toBe(0);
  });

  it("after a model too big for the arena, is the least arena that runs it: what init uses in a build with that arena", async () => {
    const image = tooBigImage();
    const mcu = await mcuInstance();
    expect(image.length).toBeLessThan(mcu.arenaBytes());
    expect(mcuLoad(mcu, image)).toBe(MCU_TOO_BIG);
    const needed = mcu.arenaNeeded();
    expect(needed).toBeGreaterThan(mcu.arenaBytes());

    const exact = new WebAssembly.Instance(new WebAssembly.Module(await mcuBuildWithArena(needed, dir)), {}).exports as unknown as McuExports;
    expect(mcuLoad(exact, image)).toBe(0);
    expect(exact.arenaUsed()).toBe(needed);
  });
});
