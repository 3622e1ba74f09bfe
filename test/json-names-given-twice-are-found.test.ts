/**
 * host/json-text.ts: the names given twice in one object of JSON text, which JSON.parse keeps the last of without
 * a word. The event reader asks for the first of the fields it reads (test/events-parsing.test.ts), the gateway for
 * every one, message and readings apart, and the readers of JSON files for the first anywhere, in words.
 */
import { describe, expect, it } from "vitest";
import { lineAndColumn, repeatedInFile, repeatedName, repeatedNames } from "../host/json-text.js";

describe("repeatedNames", () => {
  it("finds every name given again, in the text's order, with its object's path and the offset of the repeat", () => {
    const text = '{"a": 1, "b": [{"c": 1, "c": 2, "c": 3}, {"c": 4}], "a": 5}';
    expect(repeatedNames(text)).toEqual([
      { name: "c", path: ["b", 0], offset: text.indexOf('"c": 2') },
      { name: "c", path: ["b", 0], offset: text.indexOf('"c": 3') },
      { name: "a", path: [], offset: text.lastIndexOf('"a"') },
    ]);
    // repeatedName is the first of them
    expect(repeatedName(text)).toEqual(repeatedNames(text)[0]);
  });

  it("looks only at the names watched picks, and at none in strings or of other objects", () => {
    const text = '{"seq": 1, "readings": [{"t": 1, "v": 2, "v": 3, "own": 1, "own": 2}, {"t": 2, "meta": {"t": 1, "t": 2}, "t": 3}], "s": "\\"t\\": 1, \\"t\\": 2", "fw": 1, "fw": 2}';
    const reading = (name: string, path: readonly (string | number)[]) => path.length === 2 && path[0] === "readings" && ["t", "v"].includes(name);
    expect(repeatedNames(text, reading)).toEqual([
      { name: "v", path: ["readings", 0], offset: text.indexOf('"v": 3') },
      { name: "t", path: ["readings", 1], offset: text.indexOf('"t": 3') },
    ]);
    expect(repeatedNames('{"a": {"b": 1}, "c": {"b": 2}, "d": [{"b": 1}, {"b": 2}]}')).toEqual([]);
  });

  it("compares names decoded, as JSON.parse does", () => {
    expect(repeatedNames('{"t": 1, "\\u0074": 2, "\\"": 1, "\\u0022": 2}').map((r) => r.name)).toEqual(["t", '"']);
  });

  it("ends a string at its first quote not escaped, after any run of backslashes", () => {
    const text = String.raw`{"a\\": "\\", "b": "\"\\\"", "a\\": {"c": "\\\\", "c": 1}, "b": 2}`;
    expect(Object.keys(JSON.parse(text))).toEqual(["a\\", "b"]);
    expect(repeatedNames(text).map((r) => [r.name, r.path])).toEqual([
      ["a\\", []],
      ["c", ["a\\"]],
      ["b", []],
    ]);
  });
});

describe("repeatedInFile", () => {
  it("says the first name given twice anywhere with its path, line and column", () => {
    const text = '{\n  "layers": [\n    {"W": [1],\n     "W": [2]}\n  ]\n}\n';
    expect(repeatedInFile(text)).toBe("layers[0].W is given twice (line 4, column 6): JSON would keep only the last");
    expect(repeatedInFile('{"format": "a", "format": "b"}')).toBe("format is given twice (line 1, column 17): JSON would keep only the last");
    expect(repeatedInFile('[{"name": "a"}, {"name": "b", "name": "c"}]')).toBe("[1].name is given twice (line 1, column 31): JSON would keep only the last");
    expect(repeatedInFile('{"my field": {"x": 1, "x": 2}}')).toBe('["my field"].x is given twice (line 1, column 23): JSON would keep only the last');
    expect(repeatedInFile('{"a": [1, {"b": {}}], "c": "a\\"a"}')).toBeUndefined();
  });

  it("lineAndColumn counts both from 1", () => {
    expect(lineAndColumn("ab\ncd", 0)).toBe("line 1, column 1");
    expect(lineAndColumn("ab\ncd", 4)).toBe("line 2, column 2");
  });
});
