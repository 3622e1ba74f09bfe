/**
 * host/json-text.ts: the names given twice in one object of JSON text, which JSON.parse keeps the last of without
 * a word. The event reader asks for the first of the fields it reads (test/events-parsing.test.ts), the gateway for
 * every one, message and readings apart, and the readers of JSON files for the first anywhere, in words.
 */
import { describe, expect, it } from "vitest";
import { memberNames, namesGivenTwice } from "./support/json-members.js";
import { lineAndColumn, mayNestBeyond, mayRepeatNames, repeatedInFile, repeatedName, repeatedNames, tooDeepFirst } from "../host/json-text.js";

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
    expect(repeatedInFile(text, JSON.parse(text))).toBe("layers[0].W is given twice (line 4, column 6): JSON would keep only the last");
    expect(repeatedInFile('{"format": "a", "format": "b"}', JSON.parse('{"format": "a", "format": "b"}'))).toBe("format is given twice (line 1, column 17): JSON would keep only the last");
    expect(repeatedInFile('[{"name": "a"}, {"name": "b", "name": "c"}]', JSON.parse('[{"name": "a"}, {"name": "b", "name": "c"}]'))).toBe("[1].name is given twice (line 1, column 31): JSON would keep only the last");
    expect(repeatedInFile('{"my field": {"x": 1, "x": 2}}', JSON.parse('{"my field": {"x": 1, "x": 2}}'))).toBe('["my field"].x is given twice (line 1, column 23): JSON would keep only the last');
    expect(repeatedInFile('{"a": [1, {"b": {}}], "c": "a\\"a"}', JSON.parse('{"a": [1, {"b": {}}], "c": "a\\"a"}'))).toBeUndefined();
  });

  it("lineAndColumn counts both from 1", () => {
    expect(lineAndColumn("ab\ncd", 0)).toBe("line 1, column 1");
    expect(lineAndColumn("ab\ncd", 4)).toBe("line 2, column 2");
  });
});

describe("mayRepeatNames, the counts before the scan", () => {
  const texts = [
    '{"t":1,"x":[0.5],"seq":"s1"}',
    '{"t":1,"x":[0.5],"seq":"s1","ts":"2026-12-06T03:04:05"}', // a ':' in a string of the line's own
    '{"t":1,"x":[0.5],"t":2}',
    '{"t":1,"x":[0.5],"ts":"03:04","t":2}',
    '{"t":1,"x":[0.5],"note":"a","note":"b"}',
    '{"meta":{"a":"1:2","a":"3"},"t":1}',
    '{"\\u0074":1,"t":2}',
    '{"a":{"b":1},"c":[{"d":"e:f"},{"d":"g"}]}',
    '{"s":"\\"t\\":1"}',
    '[{"a":1},{"a":2}]',
  ];
  it("says a text may repeat a name wherever it does (false is sure)", () => {
    for (const text of texts) {
      if (repeatedName(text) !== undefined) expect(mayRepeatNames(text, JSON.parse(text)), text).toBe(true);
    }
  });
  it("spares the scan to a line whose only extra ':' is in a string, as a time of day is", () => {
    // before, every such line was scanned, about twice JSON.parse's time
    expect(mayRepeatNames(texts[0], JSON.parse(texts[0]))).toBe(false);
    expect(mayRepeatNames(texts[1], JSON.parse(texts[1]))).toBe(false);
    expect(mayRepeatNames(texts[7], JSON.parse(texts[7]))).toBe(false);
  });
});

describe("the scan and the nesting bound on text that is not JSON", () => {
  it("repeatedName ends on a string never closed (callers give it JSON; before, it began again for ever)", () => {
    expect(repeatedName('{"a":"unterminated}')).toBeUndefined();
  });
  it("tooDeepFirst: whether a reader bounded at `max` levels meets the bound before the text goes wrong", () => {
    const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
    expect(tooDeepFirst(`{"a":${deep(3)}}`, 3)).toBe(true);
    expect(tooDeepFirst(`{"a":${deep(2)}}`, 3)).toBe(false);
    expect(tooDeepFirst(`{"a":${deep(3)},"b":}`, 3)).toBe(true); // wrong only after the bound
    expect(tooDeepFirst(`{"b":,"a":${deep(3)}}`, 3)).toBe(false); // wrong before it
    expect(tooDeepFirst(`{[${deep(3)}`, 3)).toBe(false); // a bracket where a name goes
    expect(tooDeepFirst(`{"s":"[[[[[[","a":1}`, 3)).toBe(false); // brackets in a string
    // the count before it: more '[' and '{' than the bound, or no need to read further
    expect(mayNestBeyond("[[{}]]", 2)).toBe(true);
    expect(mayNestBeyond('[[], {"a": []}]', 3)).toBe(true);
    expect(mayNestBeyond('[[], {"a": 1}]', 3)).toBe(false);
  });
});

describe("the fuzz tests' oracle (test/support/json-members.ts)", () => {
  it("tells two objects under a name given twice apart, as repeatedNames does", () => {
    // before, their members shared one path and counted as given twice
    const text = '{"a": {"t": 1}, "a": {"t": 2}, "b": [{"t": 1}, {"t": 2, "t": 3}]}';
    expect(namesGivenTwice(memberNames(text), () => true)).toEqual(repeatedNames(text).map((r) => r.name));
    expect(namesGivenTwice(memberNames(text), () => true)).toEqual(["a", "t"]);
  });
});
