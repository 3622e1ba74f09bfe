/**
 * `phasor export-c` writes a C header and source with the MCU build and a model's image as const arrays, and the
 * arena, linear memory and stack they need: the files compile with gcc -Wall -Wextra -Werror -pedantic, their
 * arrays hold exactly the module's and the model's bytes, the C host built from them prints the same bits as
 * from the files, and a model that does not fit is refused, with the bytes it needs and the bytes there are,
 * writing nothing. Bad arguments and files exit with 2. A model with int8 weights goes with the int8 build, whose
 * init finds the arena it takes.
 */
import "../host/node.js";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePlsm, encodePlsm, withMetadata } from "../host/model/plsm.js";
import { MCU_TOO_BIG } from "../host/engine/mcu.js";
import { quantize } from "../host/model/quantize.js";
import { moduleNeeds } from "../tools/cli/wasm-needs.js";
import { C_FLAGS, cHost, compileC, eventsCsv, runCHost } from "./support/c-host.js";
import { phasor } from "./support/cli.js";
import { calibrationStreams } from "./support/engines.js";
import { MCU_FILE, MCU_INT8_FILE, mcuInstance, mcuInt8Instance, mcuLoad } from "./support/mcu.js";
import { Rng, randomModel } from "./support/random.js";
import { sameBitsFixtures, seqOfEvents } from "./support/same-bits.js";

const dir = mkdtempSync(join(tmpdir(), "phasor-export-c-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixture = sameBitsFixtures()[1];
const model = join(dir, "two-layers.plsm");
const events = join(dir, "events.csv");

interface Summary {
  header: string;
  source: string;
  moduleBytes: number;
  imageBytes: number;
  arenaUsedBytes: number;
  arenaBytes: number;
  linearMemoryBytes: number;
  wasmStackBytes: number;
}

function exportC(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return phasor(["export-c", ...args]);
}

/** `image` written to DIR/NAME.plsm and exported into DIR/NAME/, which must succeed: the paths and the summary. */
function exported(name: string, image: Uint8Array): { path: string; out: string; summary: Summary & { sensorsLeftOut?: number } } {
  const path = join(dir, `${name}.plsm`);
  writeFileSync(path, image);
  const out = join(dir, name);
  mkdirSync(out);
  const run = exportC(["--model", path, "--out", out]);
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  return { path, out, summary: JSON.parse(run.stdout) };
}

/** A program that includes the header, writes both arrays to files and prints the macros as JSON. */
const DUMP = `#include <stdio.h>
#include "phasor_model.h"
int main(int argc, char **argv) {
  (void)argc;
  FILE *f = fopen(argv[1], "wb");
  fwrite(phasor_model_wasm, 1, phasor_model_wasm_length, f);
  fclose(f);
  f = fopen(argv[2], "wb");
  fwrite(phasor_model_plsm, 1, phasor_model_plsm_length, f);
  fclose(f);
  printf("{\\"wasm\\":%d,\\"plsm\\":%d,\\"input\\":%d,\\"output\\":%d,\\"used\\":%d,\\"arena\\":%d,\\"memory\\":%d,\\"stack\\":%d}\\n",
         PHASOR_MODEL_WASM_BYTES, PHASOR_MODEL_PLSM_BYTES, PHASOR_MODEL_INPUT_SIZE, PHASOR_MODEL_OUTPUT_SIZE,
         PHASOR_MODEL_ARENA_USED_BYTES, PHASOR_MODEL_ARENA_BYTES, PHASOR_MODEL_LINEAR_MEMORY_BYTES, PHASOR_MODEL_WASM_STACK_BYTES);
  return 0;
}
`;

describe("phasor export-c", () => {
  const out = join(dir, "out");
  let summary: Summary;
  beforeAll(() => {
    mkdirSync(out);
    writeFileSync(model, fixture.image);
    const seqs = seqOfEvents(fixture);
    writeFileSync(events, eventsCsv(fixture.inputSize, fixture.t, fixture.x, (e) => seqs[e]));
    const run = exportC(["--model", model, "--out", out]);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    summary = JSON.parse(run.stdout) as Summary;
  });

  it("writes NAME.h and NAME.c that compile cleanly as C99 and C11", () => {
    expect(readdirSync(out).sort()).toEqual(["phasor_model.c", "phasor_model.h"]);
    expect(summary.header).toBe(join(out, "phasor_model.h"));
    for (const std of ["-std=c99", "-std=c11"]) {
      const compiled = compileC(join(out, "phasor_model.c"), [std, "-pedantic", "-Wall", "-Wextra", "-Werror"]);
      expect(compiled.stderr, std).toBe("");
      expect(compiled.status, std).toBe(0);
    }
  });

  it("holds the module's and the model's bytes, and the numbers the module gives for this model", async () => {
    const dump = join(dir, "dump.c");
    const binary = join(dir, "dump");
    writeFileSync(dump, DUMP);
    const built = spawnSync("gcc", [...C_FLAGS, `-I${out}`, dump, join(out, "phasor_model.c"), "-o", binary], { encoding: "utf8" });
    expect(built.stderr).toBe("");
    const ran = spawnSync(binary, [join(dir, "wasm.bin"), join(dir, "plsm.bin")], { encoding: "utf8" });
    expect(ran.status).toBe(0);
    expect(readFileSync(join(dir, "wasm.bin")).equals(readFileSync(MCU_FILE))).toBe(true);
    expect(readFileSync(join(dir, "plsm.bin")).equals(Buffer.from(fixture.image))).toBe(true);

    const mcu = await mcuInstance();
    expect(mcuLoad(mcu, fixture.image)).toBe(0);
    const needs = moduleNeeds(readFileSync(MCU_FILE));
    const macros = JSON.parse(ran.stdout);
    expect(macros).toEqual({
      wasm: readFileSync(MCU_FILE).length,
      plsm: fixture.image.length,
      input: fixture.inputSize,
      output: fixture.outputSize,
      used: mcu.arenaUsed(),
      arena: mcu.arenaBytes(),
      memory: mcu.memory.buffer.byteLength,
      stack: needs.stack.bytes,
    });
    expect(summary).toMatchObject({
      moduleBytes: macros.wasm,
      imageBytes: macros.plsm,
      arenaUsedBytes: macros.used,
      arenaBytes: macros.arena,
      linearMemoryBytes: macros.memory,
      wasmStackBytes: macros.stack,
    });
  });

  it("builds into the C host, which then prints the bytes it prints from the files", () => {
    const embedded = cHost({ embedded: out });
    const fromArrays = runCHost(embedded, ["--events", events]);
    expect(fromArrays.stderr).toBe("");
    expect(fromArrays.status).toBe(0);
    const fromFiles = runCHost(cHost(), ["--module", MCU_FILE, "--model", model, "--events", events]);
    expect(fromFiles.status).toBe(0);
    expect(fromArrays.stdout.equals(fromFiles.stdout)).toBe(true);
    expect(fromArrays.stdout.toString("utf8").split("\n")).toHaveLength(fixture.t.length + 1);
    expect(runCHost(embedded, ["--model", model, "--events", events]).stderr).toMatch(/unknown flag --model/);
  });

  it("leaves a .plsm's sensor declaration out of the image, which the device never reads, and says so", () => {
    // before, its bytes went into the arena and the flash: about a hundred a sensor, where the paper's model leaves
    // 560 bytes of the one-page arena
    const plain = decodePlsm(fixture.image, "two-layers.plsm");
    const declared = withMetadata(plain, { ...plain.meta, sensors: [{ name: "accel", channels: fixture.inputSize, note: "of the user's own" }] });
    const { out: there, summary: told } = exported("with-sensors", declared);
    expect(told.sensorsLeftOut).toBe(declared.length - fixture.image.length);
    expect(told.imageBytes).toBe(fixture.image.length);
    expect(told.arenaUsedBytes).toBe(summary.arenaUsedBytes);
    const dump = join(dir, "dump-sensors.c");
    const binary = join(dir, "dump-sensors");
    writeFileSync(dump, DUMP);
    const built = spawnSync("gcc", [...C_FLAGS, `-I${there}`, dump, join(there, "phasor_model.c"), "-o", binary], { encoding: "utf8" });
    expect(built.stderr).toBe("");
    expect(spawnSync(binary, [join(dir, "wasm-s.bin"), join(dir, "plsm-s.bin")]).status).toBe(0);
    // the image as it was before the declaration went in: every byte the module reads, the same
    expect(readFileSync(join(dir, "plsm-s.bin")).equals(Buffer.from(fixture.image))).toBe(true);
  });

  it("gives a header and a source that only compile together when they come from the same run", () => {
    const other = join(dir, "other");
    mkdirSync(other);
    const small = quantize(randomModel(new Rng(3), { inputSize: 1, hidden: [4], peephole: false, rOn: 0.5, outputs: 1, mode: "every" }), calibrationStreams(3, 1), "s").bytes;
    writeFileSync(join(dir, "small.plsm"), small);
    expect(exportC(["--model", join(dir, "small.plsm"), "--out", other]).status).toBe(0);
    copyFileSync(join(out, "phasor_model.h"), join(other, "phasor_model.h"));
    const mixed = compileC(join(other, "phasor_model.c"), ["-std=c99", "-Wall"]);
    expect(mixed.status).not.toBe(0);
    expect(mixed.stderr).toMatch(/size of array .phasor_model_c_and_h_from_the_same_export. is negative/);
  });

  it("names files and symbols after --name", () => {
    const named = join(dir, "named");
    mkdirSync(named);
    expect(exportC(["--model", model, "--out", named, "--name", "gesture_net"]).status).toBe(0);
    expect(readdirSync(named).sort()).toEqual(["gesture_net.c", "gesture_net.h"]);
    const header = readFileSync(join(named, "gesture_net.h"), "utf8");
    expect(header).toMatch(/extern const unsigned char gesture_net_plsm\[GESTURE_NET_PLSM_BYTES\];/);
    expect(compileC(join(named, "gesture_net.c"), ["-std=c99", "-pedantic", "-Wall", "-Werror"]).status).toBe(0);
  });

  it("refuses a model that does not fit the arena, with the bytes it needs and the bytes there are, and writes nothing", async () => {
    const big = join(dir, "big.plsm");
    const image = quantize(randomModel(new Rng(8), { inputSize: 1, hidden: [110, 8], peephole: true, rOn: 0.05, outputs: 2, mode: "every" }), calibrationStreams(8, 1, 1, 200), "big").bytes;
    writeFileSync(big, image);
    const empty = join(dir, "empty");
    mkdirSync(empty);
    const run = exportC(["--model", big, "--out", empty]);
    expect(run.status).toBe(2);
    const mcu = await mcuInstance();
    expect(mcuLoad(mcu, image)).toBe(MCU_TOO_BIG);
    expect(run.stderr).toBe(
      `phasor export-c: ${big}: does not fit: the model needs ${mcu.arenaNeeded()} bytes of arena (the image is ${image.length} of them) ` +
        `and the module's arena holds ${mcu.arenaBytes()}\n`,
    );
    expect(run.stdout).toBe("");
    expect(readdirSync(empty)).toEqual([]);
  });

  it("with int8 weights: the int8 build, the arena its init lays out, and the bytes phasor run prints", async () => {
    // the model the int16 test above refuses (110 and 8 units): half its weight bytes fit
    const float = randomModel(new Rng(8), { inputSize: 1, hidden: [110, 8], peephole: true, rOn: 0.05, outputs: 2, mode: "every" });
    const image = quantize(float, calibrationStreams(8, 1, 1, 200), "big", "int8").bytes;
    const { path, out: int8Out, summary: int8Summary } = exported("int8", image);
    const mcu = await mcuInt8Instance();
    expect(mcuLoad(mcu, image)).toBe(0);
    expect(int8Summary).toMatchObject({
      mcu: expect.stringMatching(/build\/phasor-mcu-int8\.wasm$/),
      moduleBytes: readFileSync(MCU_INT8_FILE).length,
      imageBytes: image.length,
      arenaUsedBytes: mcu.arenaUsed(),
      arenaBytes: mcu.arenaBytes(),
      wasmStackBytes: moduleNeeds(readFileSync(MCU_INT8_FILE)).stack.bytes,
    });
    expect(readFileSync(join(int8Out, "phasor_model.h"), "utf8")).toMatch(/build\/phasor-mcu-int8\.wasm/);
    const csv = join(dir, "int8.csv");
    const t = Array.from({ length: 300 }, (_, e) => 1.7e12 + e * 0.37);
    const x = t.map((_, e) => Math.sin(e / 7));
    writeFileSync(csv, eventsCsv(1, t, x, (e) => (e < 150 ? "a" : "b")));
    const embedded = runCHost(cHost({ embedded: int8Out }), ["--events", csv]);
    const cli = phasor(["run", "--model", path, "--events", csv]);
    // the sines reach 1, just past this model's input format (32767 / 2^15): phasor run's warning, in the same words
    expect(embedded.stderr).toBe(cli.stderr.replaceAll("phasor run: ", "phasor_host: "));
    expect(embedded.stdout.toString("utf8")).toBe(cli.stdout);

    const refused = exportC(["--model", path, "--out", int8Out, "--mcu", MCU_FILE]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/int8\.plsm: the MCU build rejects the image \(.*this one's gate weights are int8, which build\/phasor-mcu-int8\.wasm runs\)/);
  });

  // before: NAME.h was replaced first, then NAME.c refused, leaving a header from this run beside a source from another
  it("replaces neither file when one of them cannot be written", () => {
    const pair = join(dir, "pair");
    mkdirSync(pair);
    writeFileSync(join(pair, "phasor_model.h"), "/* an earlier export */\n");
    mkdirSync(join(pair, "phasor_model.c"));
    const run = exportC(["--model", model, "--out", pair]);
    expect(run.stderr).toBe(`phasor export-c: ${join(pair, "phasor_model.c")}: cannot write there: it is a directory\n`);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(readFileSync(join(pair, "phasor_model.h"), "utf8")).toBe("/* an earlier export */\n");
    expect(readdirSync(pair).sort()).toEqual(["phasor_model.c", "phasor_model.h"]);
  });

  it("refuses bad arguments and files with what is wrong, exit 2, writing nothing", () => {
    const empty = join(dir, "refusals");
    mkdirSync(empty);
    const json = join(dir, "float.json");
    writeFileSync(json, JSON.stringify({ format: "phasor-model" }));
    const floatPlsm = join(dir, "float.plsm");
    writeFileSync(floatPlsm, encodePlsm(randomModel(new Rng(1), { inputSize: 1, hidden: [3], peephole: false, rOn: 0.5, outputs: 1, mode: "every" })));
    const damaged = join(dir, "damaged.plsm");
    const bytes = Uint8Array.from(fixture.image);
    bytes[150] ^= 0xff;
    writeFileSync(damaged, bytes);
    const cases: [string[], RegExp][] = [
      [["--model", model, "--out", empty, "--name", "9lives"], /--name 9lives: must be a C identifier/],
      // before: written, and DIR/phasor_mcu.h (its guard PHASOR_MCU_H) hid host/c/phasor_mcu.h from the firmware that
      // includes both, DIR/wasm.h the runtime's wasm.h
      [["--model", model, "--out", empty, "--name", "phasor_mcu"], /^phasor export-c: --name phasor_mcu: phasor_mcu\.h and phasor_mcu\.c are the C host's own \(host\/c\/\), which the export's files would hide; choose another name\n$/],
      [["--model", model, "--out", empty, "--name", "wasm"], /^phasor export-c: --name wasm: wasm\.h is the standard wasm C API's header, which the export's files would hide; choose another name\n$/],
      // before: "no such file", of a directory, and not that export-c makes none
      [["--model", model, "--out", join(dir, "nowhere")], /--out .*nowhere: no such directory: export-c writes into one that exists\n$/],
      [["--model", model, "--out", model], /--out .*two-layers\.plsm: not a directory/],
      [["--model", json, "--out", empty], /float\.json: .*/],
      [["--model", floatPlsm, "--out", empty], /float\.plsm: a float \.plsm \(kind 2\); the MCU build runs fixed-point models/],
      [["--model", damaged, "--out", empty], /damaged\.plsm: .*checksum/],
      [["--model", model, "--out", empty, "--mcu", "build/phasor-wasi-scalar.wasm"], /phasor-wasi-scalar\.wasm: not a module that instantiates without imports/],
      [["--model", model, "--out", empty, "--mcu", "build/phasor-scalar.wasm"], /phasor-scalar\.wasm: not the MCU build \(build\/phasor-mcu\.wasm\): it does not export modelBuffer/],
      [["--model", model, "--out", empty, "--mcu", join(dir, "none.wasm")], /--mcu .*none\.wasm: cannot read the module: no such file/],
      [["--out", empty], /missing --model/],
    ];
    for (const [args, message] of cases) {
      const run = exportC(args);
      expect(run.status, args.join(" ")).toBe(2);
      expect(run.stderr, args.join(" ")).toMatch(message);
      expect(run.stdout).toBe("");
    }
    expect(readdirSync(empty)).toEqual([]);
  });
});
