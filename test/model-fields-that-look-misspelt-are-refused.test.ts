/**
 * A float model file (formats.md, "Float model: JSON") may carry fields of its own, which readers ignore; but one
 * of the format's optional fields misspelt was ignored with them, and the model ran as if the field were absent:
 * "peepholes" for "peephole" ran without peepholes, "Alpha" with alpha 0, "TimeUnit" in ms, a readout's "label"
 * without labels. The reader now refuses a field that looks like one of the format's misspelt at its level (the
 * rule of host/misspelt.ts: the same up to case, or one edit from a name of 4 letters or more), naming it and the
 * field it looks like; a field of the file's own that differs by more is still ignored. A name given twice in one
 * object, the format's or the file's own, is refused too (JSON.parse kept the last and dropped the other unsaid),
 * with its path and the line and column of the second: the other JSON files read whole are held to the same rule
 * where their readers are tested (test/checkpoints-of-another-kind-are-refused.test.ts, test/cli-quantize.test.ts
 * for sensor declarations, test/plsm-rejects-corruption.test.ts for a .plsm's metadata).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PhasorError } from "../host/errors.js";
import { checkModel, parseModelText } from "../host/model/model.js";

const TINY = JSON.parse(readFileSync(new URL("../examples/tiny-model.json", import.meta.url), "utf8"));

/** The tiny example model with one field renamed (at the level `at` picks), or with one more field. */
function renamed(at: (m: any) => Record<string, unknown>, from: string | undefined, to: string): string {
  const model = structuredClone(TINY);
  const object = at(model);
  object[to] = from === undefined ? 1 : object[from];
  if (from !== undefined) delete object[from];
  return JSON.stringify(model);
}

function refusal(text: string): string {
  try {
    parseModelText(text, "m.json");
  } catch (err) {
    expect(err).toBeInstanceOf(PhasorError);
    expect((err as PhasorError).code).toBe("bad-model");
    return (err as Error).message;
  }
  throw new Error("the model was read");
}

const top = (m: any) => m;
const layer = (m: any) => m.layers[0];
const peephole = (m: any) => m.layers[0].peephole;
const readout = (m: any) => m.readout;

describe("a float model's field that looks like one of the format's misspelt", () => {
  it.each([
    ["peepholes", layer, "peephole", "layers[0].peepholes", "peephole"],
    ["Peephole", layer, "peephole", "layers[0].Peephole", "peephole"],
    ["Alpha", layer, "alpha", "layers[0].Alpha", "alpha"],
    ["aplha", layer, "alpha", "layers[0].aplha", "alpha"],
    ["timeunit", top, "timeUnit", "timeunit", "timeUnit"],
    ["TimeUnit", top, "timeUnit", "TimeUnit", "timeUnit"],
    ["a readout's label", readout, undefined, "readout.label", "labels"],
    ["sensor (the gateway's sensors)", top, undefined, "sensor", "sensors"],
    ["w beside W", layer, undefined, "layers[0].w", "W"],
    ["O beside o", peephole, undefined, "layers[0].peephole.O", "o"],
    ["Mode beside mode", readout, undefined, "readout.Mode", "mode"],
  ] as const)("%s is refused, named with the field it looks like", (_name, at, from, path, meant) => {
    const to = path.slice(path.lastIndexOf(".") + 1);
    expect(refusal(renamed(at, from, to))).toBe(
      `m.json: ${path}: looks like "${meant}" misspelt (a field of your own must differ from the format's by more than case or one letter)`,
    );
  });

  it("fields of the file's own that differ by more are still ignored, and the model reads as before", () => {
    const plain = parseModelText(JSON.stringify(TINY), "m.json");
    for (const [at, name] of [[top, "notes"], [top, "trainedOn"], [layer, "peep"], [layer, "units"], [readout, "classes"], [peephole, "g"]] as const) {
      expect(parseModelText(renamed(at, undefined, name), "m.json"), name).toEqual(plain);
    }
  });
});

describe("a model built in code, as JavaScript without types may build it", () => {
  // before: checkModel copied the fields it knows into the JSON form, so a misspelt optional one vanished there
  it.each([
    ["peepholes", (m: any) => m.layers[0], "peephole", "layers[0].peepholes", "peephole"],
    ["Alpha", (m: any) => m.layers[0], "alpha", "layers[0].Alpha", "alpha"],
    ["a readout's label", (m: any) => m.readout, undefined, "readout.label", "labels"],
  ] as const)("%s is refused by checkModel, as in a file", (_name, at, from, path, meant) => {
    const model: any = parseModelText(JSON.stringify(TINY), "m.json");
    const object = at(model);
    const to = path.slice(path.lastIndexOf(".") + 1);
    object[to] = from === undefined ? ["x"] : object[from];
    if (from !== undefined) delete object[from];
    let message = "";
    try {
      checkModel(model, "model");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(`model: ${path}: looks like "${meant}" misspelt (a field of your own must differ from the format's by more than case or one letter)`);
  });

  it("the fields a model built in code has of its own kind (a layer's inputSize, the readout's outputSize) are its own", () => {
    const model = parseModelText(JSON.stringify(TINY), "m.json");
    expect(() => checkModel(model, "model")).not.toThrow();
  });
});

describe("a float model that gives a name twice", () => {
  /** The tiny example model as an editor shows it: two spaces an indent, one value a line. */
  const PRETTY = JSON.stringify(TINY, null, 2);
  /** PRETTY with `line` given again just after itself: the copy is the second, on the line after the first. */
  const twice = (line: string) => {
    expect(PRETTY).toContain(`\n${line}\n`);
    return PRETTY.replace(`\n${line}\n`, `\n${line}\n${line}\n`);
  };
  const lineOf = (line: string) => PRETTY.slice(0, PRETTY.indexOf(`\n${line}\n`) + 1).split("\n").length;

  // before: read with JSON.parse's last of the two, the other dropped without a word
  it.each([
    ["the version", '  "version": 1,', "version", 3],
    ["a layer's hiddenSize", '      "hiddenSize": 3,', "layers[0].hiddenSize", 7],
    ["the readout's mode", '    "mode": "every",', "readout.mode", 5],
  ])("is refused, naming %s, its line and column", (_name, line, path, column) => {
    expect(refusal(twice(line))).toBe(`m.json: ${path} is given twice (line ${lineOf(line) + 1}, column ${column}): JSON would keep only the last`);
  });

  it("is refused for a name of the file's own too, and the same model without it reads", () => {
    expect(refusal(PRETTY.replace("{", '{"notes": "a", "notes": "b",'))).toBe("m.json: notes is given twice (line 1, column 16): JSON would keep only the last");
    expect(parseModelText(PRETTY.replace("{", '{"notes": "a",'), "m.json")).toEqual(parseModelText(PRETTY, "m.json"));
  });
});
