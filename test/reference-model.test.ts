// formats.md, "Float model: JSON": the reader accepts exactly the documented format and rejects everything else
// with a message naming the file, the field and the expected shape; modelToJson is its exact inverse.
import { describe, expect, it } from "vitest";
import { PhasorError } from "../host/errors.js";
import { checkModel, modelToJson, parseModel, parseModelText, type FloatModel } from "../host/model/model.js";
import { ReferenceEngine } from "../host/engine/reference.js";
import { Rng, randomModel } from "./support/random.js";

/** inputSize 3, layers of 4 and 2 units with peepholes, 2 labelled outputs */
function baseModel(): FloatModel {
  const model = randomModel(new Rng(1), { inputSize: 3, hidden: [4, 2], peephole: true, rOn: 0.05, outputs: 2, mode: "last" });
  model.readout.labels = ["other", "target"];
  return model;
}

/** the JSON of a model, to be broken field by field */
type Json = any;

function baseJson(): Json {
  return structuredClone(modelToJson(baseModel()));
}

function rejection(mutate: (json: Json) => void): PhasorError {
  const json = baseJson();
  mutate(json);
  try {
    parseModel(json, "model.json");
  } catch (e) {
    expect(e).toBeInstanceOf(PhasorError);
    expect((e as PhasorError).code).toBe("bad-model");
    return e as PhasorError;
  }
  throw new Error("the model was accepted");
}

describe("a float model JSON is rejected with the field and the expected shape", () => {
  const cases: [string, (json: Json) => void, string | RegExp][] = [
    ["a wrong format", (j) => (j.format = "phasor"), 'model.json: format: expected "phasor-model", got "phasor"'],
    ["a missing format", (j) => delete j.format, 'model.json: format: expected "phasor-model", got nothing (missing)'],
    ["an unsupported version", (j) => (j.version = 2), "model.json: version: unsupported version 2, this reader knows version 1"],
    ["a non-numeric version", (j) => (j.version = "1"), 'model.json: version: unsupported version "1", this reader knows version 1'],
    ["a missing inputSize", (j) => delete j.inputSize, "model.json: inputSize: expected a whole number from 1 to 65536, got nothing (missing)"],
    ["a fractional inputSize", (j) => (j.inputSize = 2.5), "model.json: inputSize: expected a whole number from 1 to 65536, got 2.5"],
    ["no layers", (j) => (j.layers = []), "model.json: layers: expected an array of 1 to 64 layers, got 0"],
    ["a layer that is not an object", (j) => (j.layers[1] = [1]), "model.json: layers[1]: expected an object, got an array of 1"],
    ["a zero hiddenSize", (j) => (j.layers[0].hiddenSize = 0), "model.json: layers[0].hiddenSize: expected a whole number from 1 to 65536, got 0"],
    ["a short row of W", (j) => (j.layers[0].W[5] = [0.1, 0.2]), "model.json: layers[0].W[5]: expected 3 numbers (inputSize), got 2"],
    [
      "a missing row of W",
      (j) => j.layers[0].W.pop(),
      "model.json: layers[0].W: expected 16 rows (4 x hiddenSize) of 3 numbers (inputSize), got 15",
    ],
    ["W that is not an array", (j) => (j.layers[0].W = 1), "model.json: layers[0].W: expected 16 rows (4 x hiddenSize) of 3 numbers (inputSize), got 1, not an array"],
    [
      "a layer whose input is not the previous layer's hidden size",
      (j) => (j.layers[1].W[0] = [1, 2, 3]),
      "model.json: layers[1].W[0]: expected 4 numbers (layers[0].hiddenSize), got 3",
    ],
    ["a long row of U", (j) => j.layers[1].U[7].push(0), "model.json: layers[1].U[7]: expected 2 numbers (hiddenSize), got 3"],
    ["a missing row of U", (j) => j.layers[0].U.pop(), "model.json: layers[0].U: expected 16 rows (4 x hiddenSize) of 4 numbers (hiddenSize), got 15"],
    ["a short b", (j) => j.layers[0].b.pop(), "model.json: layers[0].b: expected 16 numbers (4 x hiddenSize), got 15"],
    ["a short peephole", (j) => j.layers[0].peephole.f.pop(), "model.json: layers[0].peephole.f: expected 4 numbers (hiddenSize), got 3"],
    ["a peephole missing a gate", (j) => delete j.layers[0].peephole.o, "model.json: layers[0].peephole.o: expected 4 numbers (hiddenSize), got nothing (missing)"],
    ["a peephole that is an array", (j) => (j.layers[0].peephole = [0, 0, 0]), "model.json: layers[0].peephole: expected an object, got an array of 3"],
    ["a short tau", (j) => j.layers[1].tau.pop(), "model.json: layers[1].tau: expected 2 numbers (hiddenSize), got 1"],
    ["a long shift", (j) => j.layers[0].shift.push(1), "model.json: layers[0].shift: expected 4 numbers (hiddenSize), got 5"],
    ["a short rOn", (j) => (j.layers[0].rOn = [0.05]), "model.json: layers[0].rOn: expected 4 numbers (hiddenSize), got 1"],
    ["tau = 0", (j) => (j.layers[0].tau[1] = 0), "model.json: layers[0].tau[1]: expected a period in [2^-20, 2^42] time units (the range every engine computes exactly), got 0"],
    ["tau < 0", (j) => (j.layers[1].tau[0] = -5), "model.json: layers[1].tau[0]: expected a period in [2^-20, 2^42] time units (the range every engine computes exactly), got -5"],
    ["rOn = 0", (j) => (j.layers[0].rOn[2] = 0), "model.json: layers[0].rOn[2]: expected an open ratio in [2^-16, 1] (the range every engine computes exactly), got 0"],
    ["rOn > 1", (j) => (j.layers[0].rOn[3] = 1.5), "model.json: layers[0].rOn[3]: expected an open ratio in [2^-16, 1] (the range every engine computes exactly), got 1.5"],
    ["tau just below 2^-20", (j) => (j.layers[0].tau[1] = 2 ** -20 * (1 - 2 ** -53)), /^model\.json: layers\[0\]\.tau\[1\]: expected a period in \[2\^-20, 2\^42\] time units .*, got 9\.5367431640624\d*e-7$/],
    ["tau just above 2^42", (j) => (j.layers[0].tau[1] = 2 ** 42 * (1 + 2 ** -52)), /^model\.json: layers\[0\]\.tau\[1\]: expected a period in \[2\^-20, 2\^42\] time units .*, got 4398046511104\.001$/],
    ["rOn just below 2^-16", (j) => (j.layers[0].rOn[0] = 2 ** -16 * (1 - 2 ** -53)), /^model\.json: layers\[0\]\.rOn\[0\]: expected an open ratio in \[2\^-16, 1\]/],
    ["a hiddenSize beyond 65536", (j) => (j.layers[0].hiddenSize = 65537), "model.json: layers[0].hiddenSize: expected a whole number from 1 to 65536, got 65537"],
    ["a weight beyond the 32-bit float range", (j) => (j.layers[0].W[1][0] = 3.5e38), "model.json: layers[0].W[1][0]: expected a number within the 32-bit float range (+-3.4e38) the engines take, got 3.5e+38"],
    ["alpha < 0", (j) => (j.layers[0].alpha = -0.001), "model.json: layers[0].alpha: expected a leak alpha >= 0, got -0.001"],
    ["a NaN weight", (j) => (j.layers[0].W[2][1] = NaN), "model.json: layers[0].W[2][1]: expected a finite number, got NaN"],
    ["an infinite bias", (j) => (j.layers[1].b[3] = -Infinity), "model.json: layers[1].b[3]: expected a finite number, got -Infinity"],
    ["a string shift", (j) => (j.layers[0].shift[0] = "1"), 'model.json: layers[0].shift[0]: expected a finite number, got "1"'],
    ["a null weight", (j) => (j.layers[0].U[0][0] = null), "model.json: layers[0].U[0][0]: expected a finite number, got null"],
    ["a non-finite alpha", (j) => (j.layers[0].alpha = Infinity), "model.json: layers[0].alpha: expected a finite number, got Infinity"],
    ["a missing readout", (j) => delete j.readout, "model.json: readout: expected an object, got nothing (missing)"],
    ["an unknown readout mode", (j) => (j.readout.mode = "first"), 'model.json: readout.mode: expected "last" or "every", got "first"'],
    ["an empty V", (j) => (j.readout.V = []), "model.json: readout.V: expected a non-empty array of rows (one per output) of 2 numbers (hiddenSize of the last layer), got 0"],
    ["a long row of V", (j) => j.readout.V[1].push(0), "model.json: readout.V[1]: expected 2 numbers (hiddenSize of the last layer), got 3"],
    ["a short d", (j) => j.readout.d.pop(), "model.json: readout.d: expected 2 numbers (one per row of readout.V), got 1"],
    ["too many labels", (j) => j.readout.labels.push("third"), "model.json: readout.labels: expected 2 strings (one per row of readout.V), got 3"],
    ["a numeric label", (j) => (j.readout.labels[1] = 1), "model.json: readout.labels[1]: expected a string, got 1"],
    ["an empty timeUnit", (j) => (j.timeUnit = ""), 'model.json: timeUnit: expected a non-empty string such as "ms", got ""'],
  ];

  for (const [what, mutate, message] of cases) {
    it(what, () => {
      const error = rejection(mutate);
      if (typeof message === "string") expect(error.message).toBe(message);
      else expect(error.message).toMatch(message);
    });
  }

  it("a top level that is not an object", () => {
    expect(() => parseModel([], "m.json")).toThrow("m.json: (top level): expected an object, got an array of 0");
    expect(() => parseModel(null, "m.json")).toThrow("m.json: (top level): expected an object, got null");
  });

  it("text that is not JSON, and numbers that overflow to Infinity in the text", () => {
    expect(() => parseModelText("{ not json", "model.json")).toThrow(/^model\.json: not valid JSON \(/);
    const json = baseJson();
    json.layers[0].W[4][2] = "OVERFLOW";
    const text = JSON.stringify(json).replace('"OVERFLOW"', "1e999");
    expect(() => parseModelText(text, "model.json")).toThrow("model.json: layers[0].W[4][2]: expected a finite number, got Infinity");
  });

  // before: "at position 726", which no editor goes to
  it("text that is not JSON is placed by line and column where the JSON reader says where it stopped", () => {
    expect(() => parseModelText('{\n  "format": "phasor-model",\n}', "m.json")).toThrow(/^m\.json: not valid JSON \(.*\), at line 3, column 1$/);
    expect(() => parseModelText('{\r\n  "format"', "m.json")).toThrow(/^m\.json: not valid JSON \(.*\), at line 2, column 11$/);
    // as Python's json.dumps writes non-finite floats: V8 quotes the text instead of giving an offset
    for (const token of ["NaN", "Infinity", "-Infinity"]) {
      const lines = JSON.stringify(baseJson(), null, 2).split("\n");
      lines.splice(1, 0, `  "alpha": ${token},`);
      expect(() => parseModelText(lines.join("\n"), "m.json"), token).toThrow(
        /, at line 2, column 12: NaN and Infinity are no JSON numbers, and a model's numbers must be finite$/,
      );
    }
  });

  it("an error in the very last field still rejects the whole file, and the input is not modified", () => {
    const json = baseJson();
    json.readout.labels = ["only one"];
    const before = JSON.stringify(json);
    expect(() => parseModel(json, "model.json")).toThrow(/readout\.labels/);
    expect(JSON.stringify(json)).toBe(before);
  });

  it("accepts the edge values: rOn = 1 and 2^-16, tau 2^-20 and 2^42, alpha = 0, no peephole, no labels, no alpha", () => {
    const json = baseJson();
    json.layers[0].rOn = [1, 1, 1, 2 ** -16];
    json.layers[0].tau[0] = 2 ** -20;
    json.layers[0].tau[1] = 2 ** 42;
    json.layers[0].alpha = 0;
    json.layers[0].peephole = null;
    delete json.layers[1].peephole;
    delete json.layers[1].alpha;
    delete json.readout.labels;
    const model = parseModel(json, "model.json");
    expect(model.layers[0].peephole).toBeNull();
    expect(model.layers[1].peephole).toBeNull();
    expect(model.layers[1].alpha).toBe(0);
    expect(model.readout.labels).toBeUndefined();
    expect(model.layers[0].rOn).toEqual(new Float64Array([1, 1, 1, 2 ** -16]));
  });
});

describe("modelToJson is the exact inverse of parseModel", () => {
  it("writes the documented JSON", () => {
    const json: Json = modelToJson(baseModel());
    expect(json.format).toBe("phasor-model");
    expect(json.version).toBe(1);
    expect(json.timeUnit).toBe("ms");
    expect(json.inputSize).toBe(3);
    expect(json.layers).toHaveLength(2);
    expect(json.layers[0].W).toHaveLength(16);
    expect(json.layers[0].W[0]).toHaveLength(3);
    expect(json.layers[1].W[0]).toHaveLength(4);
    expect(json.layers[1].U[0]).toHaveLength(2);
    expect(Object.keys(json.layers[0].peephole)).toEqual(["i", "f", "o"]);
    expect(json.readout).toEqual({ mode: "last", V: expect.any(Array), d: expect.any(Array), labels: ["other", "target"] });
    expect(json.readout.V).toHaveLength(2);
  });

  it("round-trips number for number, as an object and through JSON text", () => {
    for (const [seed, peephole, mode] of [
      [1, true, "last"],
      [2, false, "every"],
    ] as const) {
      const model = randomModel(new Rng(seed), { inputSize: 5, hidden: [7, 3, 4], peephole, rOn: 0.1, outputs: 3, mode });
      expect(parseModel(modelToJson(model), "m")).toEqual(model);
      expect(parseModelText(JSON.stringify(modelToJson(model)), "m")).toEqual(model);
      expect(modelToJson(parseModel(modelToJson(model), "m"))).toEqual(modelToJson(model));
    }
  });
});

describe("models built in code are held to the same rules", () => {
  it("checkModel and the reference engine reject wrong flat lengths and bad values", () => {
    const short = baseModel();
    short.layers[0].U = short.layers[0].U.subarray(1);
    expect(() => checkModel(short, "model")).toThrow("model: layers[0].U: expected 64 numbers, got 63");
    expect(() => new ReferenceEngine(short)).toThrow(PhasorError);
    const long = baseModel();
    long.layers[1].W = new Float64Array(long.layers[1].W.length + 1);
    expect(() => new ReferenceEngine(long)).toThrow("model: layers[1].W: expected 32 numbers, got 33");
    const negative = baseModel();
    negative.layers[1].tau[0] = -1;
    expect(() => new ReferenceEngine(negative)).toThrow(
      "model: layers[1].tau[0]: expected a period in [2^-20, 2^42] time units (the range every engine computes exactly), got -1",
    );
    const empty = baseModel();
    empty.layers = [];
    expect(() => new ReferenceEngine(empty)).toThrow("model: layers: expected an array of 1 to 64 layers, got 0");
  });
});
