/**
 * The hosts of the modules take the numbers of their contract from one place, assembly/contract/ (the .plsm
 * layout, status codes, refusal reasons, modelInfo keys, learning answers), which the modules are compiled from.
 * The C host cannot import TypeScript, so it keeps its own copies of the few it uses; here they are held to the
 * contract.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as calls from "../assembly/contract/calls.js";
import * as plsm from "../assembly/contract/plsm.js";

/** NAME = value pairs of the C host's enums and #defines. */
function cConstants(file: string): Map<string, number> {
  const text = readFileSync(file, "utf8");
  const found = new Map<string, number>();
  for (const [, body] of text.matchAll(/enum\s*\{([^}]*)\}/g)) {
    for (const [, name, value] of body.matchAll(/(\w+)\s*=\s*(-?\d+)/g)) found.set(name, Number(value));
  }
  for (const [, name, value] of text.matchAll(/^#define\s+(\w+)\s+(-?\d+)\s*$/gm)) found.set(name, Number(value));
  return found;
}

describe("the C host's copies of the contract", () => {
  const c = cConstants("host/c/phasor_mcu.c");

  it("has the modules' status codes", () => {
    expect(c.get("MCU_REJECTED")).toBe(calls.E_MODEL);
    expect(c.get("MCU_REFUSED")).toBe(calls.E_INPUT);
    expect(c.get("MCU_NO_MODEL")).toBe(calls.E_STATE);
    expect(c.get("MCU_TOO_BIG")).toBe(calls.E_CAPACITY);
    expect(c.get("MCU_LEARN_STEPPED")).toBe(calls.LEARN_STEPPED);
    expect(c.get("MCU_LEARN_CAPPED")).toBe(calls.LEARN_CAPPED);
  });

  it("reads the .plsm header where the modules write and read it", () => {
    expect(c.get("PLSM_KIND_AT")).toBe(plsm.HEADER_KIND);
    expect(c.get("PLSM_FILE_BYTES_AT")).toBe(plsm.HEADER_FILE_BYTES);
    expect(c.get("PLSM_INPUT_SIZE_AT")).toBe(plsm.HEADER_INPUT_SIZE);
    expect(c.get("PLSM_OUTPUT_SIZE_AT")).toBe(plsm.HEADER_OUTPUT_SIZE);
    expect(c.get("PLSM_READOUT_MODE_AT")).toBe(plsm.HEADER_READOUT_MODE);
    expect(c.get("PLSM_HEADER_BYTES")).toBe(plsm.HEADER_BYTES);
    expect(c.get("PLSM_KIND_FIXED")).toBe(plsm.KIND_FIXED);
  });

  it("finds int8 weights in the layer flags where the modules read them", () => {
    expect(c.get("PLSM_LAYER_COUNT_AT")).toBe(plsm.HEADER_LAYER_COUNT);
    expect(c.get("PLSM_LAYER_DESC_BYTES")).toBe(plsm.LAYER_DESC_BYTES);
    expect(c.get("PLSM_LAYER_FLAGS_AT")).toBe(plsm.LAYER_FLAGS);
    expect(c.get("PLSM_LAYER_INT8")).toBe(plsm.LAYER_INT8);
  });
});
