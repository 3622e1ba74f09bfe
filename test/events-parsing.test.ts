import { describe, expect, it } from "vitest";
import { PhasorError } from "../host/errors.js";
import { DEFAULT_MAX_LINE_BYTES, EventParser, groupBySeq, parseEvents, type EventParserOptions, type StreamEvent } from "../host/engine/events.js";

const NDJSON = [
  '{"t": 0.0, "x": [0.31, 1], "seq": "a"}',
  '{"t": 0.52, "x": [0.77, -2.5e-3], "seq": "a", "label": 1}',
  "",
  '{"t": 3.0, "x": [-0.2, 0], "seq": 7, "label": 0}',
  '{"t": 3.0, "x": [3e38, 5], "seq": 7}',
  '{"t": 1.7e12, "x": [0.1, 0.2], "seq": "b,c"}',
].join("\n");

const CSV = [
  "t,seq,x1,label,x0",
  '0.0,a,1,,0.31',
  '0.52,"a",-2.5e-3,1,0.77',
  "",
  "3.0,7,0,0,-0.2",
  "3.0, 7 ,5,,3e38",
  '1.7e12,"b,c",0.2,,0.1',
].join("\n");

function parse(text: string, options: Partial<EventParserOptions> = {}) {
  return parseEvents(text, { inputSize: 2, file: "ev.ndjson", ...options });
}

/** the events of `text` pushed in the given chunks */
function parseChunks(chunks: string[], options: Partial<EventParserOptions> = {}): StreamEvent[] {
  const parser = new EventParser({ inputSize: 2, file: "ev.ndjson", ...options });
  const events: StreamEvent[] = [];
  for (const chunk of chunks) events.push(...parser.push(chunk));
  events.push(...parser.end());
  return events;
}

function thrown(fn: () => unknown): PhasorError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PhasorError);
    return err as PhasorError;
  }
  throw new Error("expected a PhasorError");
}

/** a small deterministic generator, so that a failing chunking can be replayed */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("event files", () => {
  it("reads NDJSON: t, x, seq, label and the line of each event, blank lines skipped", () => {
    const { events, skipped } = parse(NDJSON);
    expect(skipped).toBe(0);
    expect(events.map((e) => [e.t, Array.from(e.x), e.seq, e.label, e.line])).toEqual([
      [0, [0.31, 1], "a", undefined, 1],
      [0.52, [0.77, -2.5e-3], "a", 1, 2],
      [3, [-0.2, 0], 7, 0, 4],
      [3, [3e38, 5], 7, undefined, 5],
      [1.7e12, [0.1, 0.2], "b,c", undefined, 6],
    ]);
    expect(events[0].x).toBeInstanceOf(Float64Array);
  });

  it("reads CSV with columns in any order after t into the same events as NDJSON", () => {
    const csv = parse(CSV, { file: "ev.csv" });
    const ndjson = parse(NDJSON);
    expect(csv.skipped).toBe(0);
    // the CSV has a header line first, so its lines are one further down
    expect(csv.events).toEqual(ndjson.events.map((e) => ({ ...e, line: e.line + 1 })));
  });

  // before: R's write.csv quotes every name of its header, and such a file was refused as "not JSON" on line 1
  it("reads a CSV header whose names are quoted, or spaced from their commas, as the same header", () => {
    const plain = parse(CSV, { file: "ev.csv" }).events;
    const [header, ...rows] = CSV.split("\n");
    for (const other of ['"t","seq","x1","label","x0"', "t , seq, x1 ,label,x0"]) {
      expect(parse([other, ...rows].join("\n"), { file: "ev.csv" }).events, other).toEqual(plain);
    }
    expect(header).toBe("t,seq,x1,label,x0");
  });

  it("reads an unquoted integer seq as a number and a quoted one as a string in CSV", () => {
    const { events } = parse('t,x0,x1,seq\n0,1,2,12\n1,1,2,"12"\n2,1,2,x12\n3,1,2,\n', { file: "ev.csv" });
    expect(events.map((e) => e.seq)).toEqual([12, "12", "x12", undefined]);
  });

  it("takes CRLF line ends, a byte order mark, null seq and label, a last line without newline", () => {
    const { events } = parse('\uFEFF{"t":1,"x":[1,2],"seq":null,"label":null}\r\n\r\n{"t":2,"x":[3,4]}');
    expect(events.map((e) => [e.t, e.seq, e.label, e.line])).toEqual([
      [1, undefined, undefined, 1],
      [2, undefined, undefined, 3],
    ]);
  });

  it("ignores unknown NDJSON fields and unknown CSV columns", () => {
    expect(parse('{"t":1,"x":[1,2],"note":"hi"}').events).toHaveLength(1);
    // a name of the line's own given twice, or a field's name inside a value of its own, drops nothing it reads
    expect(parse('{"t":1,"x":[1,2],"note":"a","note":"b","meta":{"t":5,"t":6,"x":[{"seq":1,"seq":2}]},"s":"\\"t\\":"}').events[0].t).toBe(1);
    // as deep as phasor-wasi reads: 512 levels, the object included
    expect(parse(`{"t":1,"x":[1,2],"own":${"[".repeat(511)}${"]".repeat(511)}}`).events[0].t).toBe(1);
    expect(parse("t,x0,x1,weight\n1,1,2,0.5\n").events[0].x).toEqual(new Float64Array([1, 2]));
  });

  const badNdjson: [string, string, RegExp][] = [
    ["not JSON", '{"t": 1, "x": [1, 2]', /not JSON/],
    ["CSV without header", "1,2,3", /not JSON.*header/],
    // a CSV file is known by its header's first column: one whose t comes later was read as NDJSON, "not JSON", and
    // nothing said why
    ["CSV header with t after seq", "seq,t,x0,x1", /not JSON: .* \(a CSV file needs a header line starting with "t,"\)$/],
    ["CSV header with t last", 'x0,x1,"t"', /not JSON: .* \(a CSV file needs a header line starting with "t,"\)$/],
    ["not an object", "[1, 2]", /not a JSON object/],
    ["missing t", '{"x": [1, 2]}', /missing "t"/],
    ["t a string", '{"t": "1", "x": [1, 2]}', /"t" must be a number, got "1"/],
    ["t overflowing", '{"t": 1e999, "x": [1, 2]}', /"t" is not finite/],
    ["missing x", '{"t": 1}', /missing "x"/],
    ["x not an array", '{"t": 1, "x": 3}', /"x" must be an array of 2 numbers/],
    ["x too short", '{"t": 1, "x": [1]}', /"x" has 1 numbers, the model's inputSize is 2/],
    ["x too long", '{"t": 1, "x": [1, 2, 3]}', /"x" has 3 numbers, the model's inputSize is 2/],
    ["x with a string", '{"t": 1, "x": [1, "2"]}', /"x\[1\]" must be a number/],
    ["x with null", '{"t": 1, "x": [null, 2]}', /"x\[0\]" must be a number, got null/],
    ["x overflowing", '{"t": 1, "x": [1, -1e999]}', /"x\[1\]" is not finite/],
    ["NaN, as Python writes it", '{"t": NaN, "x": [1, 2]}', /not JSON: .* \(NaN and Infinity are no JSON numbers, and an event's numbers must be finite\)$/],
    ["-Infinity, as Python writes it", '{"t": 1, "x": [1, -Infinity]}', /not JSON: .* \(NaN and Infinity are no JSON numbers/],
    ["x beyond f32", '{"t": 1, "x": [1, -3.5e38]}', /"x\[1\]" is beyond the 32-bit float range/],
    ["seq fractional", '{"t": 1, "x": [1, 2], "seq": 1.5}', /"seq" must be a string or an integer, got 1.5/],
    ["seq an object", '{"t": 1, "x": [1, 2], "seq": {}}', /"seq" must be a string or an integer/],
    ["label a string", '{"t": 1, "x": [1, 2], "label": "cat"}', /"label" must be a finite number, got "cat"/],
    ["label overflowing", '{"t": 1, "x": [1, 2], "label": 1e999}', /"label" must be a finite number/],
    // JSON.parse keeps the last of a name given twice: before, the line ran as t = 2, its 1 dropped unsaid
    ["t given twice", '{"t": 1, "x": [1, 2], "t": 2}', /:3: "t" is given twice$/],
    ["x given twice, once by an escaped name", '{"t": 1, "x": [1, 2], "\\u0078": [3, 4]}', /:3: "x" is given twice$/],
    ["seq given twice, the first null", '{"seq": null, "t": 1, "x": [1, 2], "seq": "a"}', /:3: "seq" is given twice$/],
    // phasor-wasi's JSON reader stops there (test/wasi-command.test.ts); before, phasor run read such a line
    ["arrays nested 513 deep, the object included", `{"t": 1, "x": [1, 2], "own": ${"[".repeat(512)}${"]".repeat(512)}}`, /:3: not JSON: arrays and objects nested more than 512 deep, which phasor-wasi does not read$/],
    ["label given twice, with nested fields of the line's own", '{"label": 1, "meta": {"t": 1, "t": 2}, "t": 1, "x": [1, 2], "label": 2}', /:3: "label" is given twice$/],
  ];

  it.each(badNdjson)("rejects an NDJSON line with %s, naming file, line and reason", (_name, line, reason) => {
    const text = `{"t": 0, "x": [0, 0]}\n\n${line}\n{"t": 9, "x": [0, 0]}\n`;
    const err = thrown(() => parse(text));
    expect(err.code).toBe("bad-input");
    expect(err.message).toMatch(/^ev\.ndjson:3: /);
    expect(err.message).toMatch(reason);
  });

  const badCsv: [string, string, RegExp][] = [
    ["too few fields", "1,2", /bad CSV row: 2 fields, the header has 4/],
    ["too many fields", "1,2,3,a,5", /bad CSV row: 5 fields, the header has 4/],
    ["an unterminated quote", '1,2,3,"a', /bad CSV row: unterminated quote/],
    ["t not a number", "one,2,3,a", /t is not a number: "one"/],
    ["t empty", ",2,3,a", /t is not a number: ""/],
    ["x hexadecimal", "1,0x10,3,a", /x0 is not a number: "0x10"/],
    ["x NaN", "1,2,NaN,a", /x1 is not finite: "NaN"/],
    ["x inf", "1,-inf,3,a", /x0 is not finite/],
    ["x overflowing", "1,2,1e999,a", /x1 is not finite/],
    ["x beyond f32", "1,2,1e39,a", /x1 is beyond the 32-bit float range/],
  ];

  it.each(badCsv)("rejects a CSV row with %s, naming file, line and reason", (_name, row, reason) => {
    const text = `t,x0,x1,seq\n0,0,0,a\n${row}\n9,0,0,a\n`;
    const err = thrown(() => parse(text, { file: "ev.csv" }));
    expect(err.code).toBe("bad-input");
    expect(err.message).toMatch(/^ev\.csv:3: /);
    expect(err.message).toMatch(reason);
  });

  // before: 'must be a string or an integer, got 9007199254740992' for an integer, quoting a number it did not give
  it("says why an integer seq beyond 2^53 is refused, and that a string keeps it", () => {
    const err = thrown(() => parse('{"t": 1, "x": [1, 2], "seq": 9007199254740993}'));
    expect(err.message).toBe('ev.ndjson:1: "seq" is an integer beyond +-(2^53 - 1), which JSON numbers do not hold exactly: give such an id as a string');
    expect(parse('{"t": 1, "x": [1, 2], "seq": 9007199254740991}').events[0].seq).toBe(9007199254740991);
  });

  // before: a file of CR-only line ends (classic Mac OS) is one line: 'CSV header has no column x0' for a header that
  // has it, and a bare JSON syntax error for NDJSON
  it("says that a line holds a carriage return that does not end it", () => {
    const csv = thrown(() => parse("t,x0,x1\r0,1,2\r1,2,3\r", { file: "ev.csv" }));
    expect(csv.message).toBe("ev.csv:1: CSV header holds a carriage return (\\r) that does not end the line: lines end with LF or CRLF, not CR alone");
    const ndjson = thrown(() => parse('{"t": 0, "x": [1, 2]}\r{"t": 1, "x": [1, 2]}\r'));
    expect(ndjson.message).toMatch(/^ev\.ndjson:1: not JSON: .* \(the line holds a carriage return \(\\r\) that does not end it: lines end with LF or CRLF, not CR alone\)$/);
    // as JSON whitespace, a carriage return is no error
    expect(parse('{"t": 0,\r "x": [1, 2]}\r\n').events).toHaveLength(1);
  });

  it("rejects a CSV label that is not a finite number", () => {
    const err = thrown(() => parse("t,x0,x1,label\n0,0,0,cat\n", { file: "ev.csv" }));
    expect(err.message).toMatch(/^ev\.csv:2: label is not a number: "cat"/);
  });

  it.each([
    ["a missing x column", "t,x0,seq", /ev\.csv:1: CSV header has no column x1/],
    ["an x column beyond inputSize", "t,x0,x1,x2", /ev\.csv:1: CSV column x2, but the model's inputSize is 2/],
    ["a repeated column", "t,x0,x1,x0", /ev\.csv:1: CSV header has column "x0" twice/],
    ["a repeated seq", "t,seq,x0,x1,seq", /ev\.csv:1: CSV header has column "seq" twice/],
  ])("rejects a CSV header with %s, even with skipBad", (_name, header, reason) => {
    expect(thrown(() => parse(`${header}\n0,0,0,0\n`, { file: "ev.csv", skipBad: true })).message).toMatch(reason);
  });

  it("rejects time going backwards within a seq, not across seqs", () => {
    const text = [
      '{"t": 5, "x": [0, 0], "seq": "a"}',
      '{"t": 1, "x": [0, 0], "seq": "b"}',
      '{"t": 1, "x": [0, 0], "seq": "b"}',
      '{"t": 0.5, "x": [0, 0], "seq": "b"}',
    ].join("\n");
    expect(thrown(() => parse(text)).message).toBe('ev.ndjson:4: time goes backwards within seq "b": t = 0.5 after t = 1');
    const noSeq = '{"t": 2, "x": [0, 0]}\n{"t": 1, "x": [0, 0]}\n';
    expect(thrown(() => parse(noSeq)).message).toBe("ev.ndjson:2: time goes backwards: t = 1 after t = 2");
  });

  it("leaves time order to the stream when checkTimeOrder is false (clamp policy)", () => {
    const noSeq = '{"t": 2, "x": [0, 0]}\n{"t": 1, "x": [0, 0]}\n';
    expect(parse(noSeq, { checkTimeOrder: false }).events.map((e) => e.t)).toEqual([2, 1]);
  });

  it("rejects a seq that comes back after another seq", () => {
    const text = [
      '{"t": 0, "x": [0, 0], "seq": 1}',
      '{"t": 1, "x": [0, 0], "seq": 1}',
      '{"t": 0, "x": [0, 0], "seq": "1"}',
      '{"t": 2, "x": [0, 0], "seq": 1}',
    ].join("\n");
    expect(thrown(() => parse(text)).message).toBe(
      'ev.ndjson:4: seq 1 appears again after seq "1": the events of one seq must be contiguous (it ended at line 2)',
    );
  });

  it("with skipBad, skips and counts bad lines, keeps the first reasons, and checks order against good lines only", () => {
    const lines = ['{"t": 0, "x": [0, 0]}'];
    for (let k = 0; k < 7; k++) lines.push(`{"t": ${k + 1}, "x": [${k}]}`);
    lines.push('{"t": 10, "x": [0, 0]}', '{"t": 9, "x": [0, 0]}', "garbage", '{"t": 11, "x": [0, 0]}');
    const { events, skipped, skippedReasons } = parse(lines.join("\n"), { skipBad: true });
    expect(events.map((e) => [e.t, e.line])).toEqual([
      [0, 1],
      [10, 9],
      [11, 12],
    ]);
    expect(skipped).toBe(9);
    expect(skippedReasons).toHaveLength(5);
    expect(skippedReasons[0]).toBe("ev.ndjson:2: \"x\" has 1 numbers, the model's inputSize is 2");
    expect(skippedReasons[4]).toMatch(/^ev\.ndjson:6: /);
  });

  it("with skipBad, skips every line of a seq that comes back", () => {
    const text = ["a", "b", "a", "a", "b"].map((seq, k) => `{"t": ${k}, "x": [0, 0], "seq": "${seq}"}`).join("\n");
    const { events, skipped, skippedReasons } = parse(text, { skipBad: true });
    expect(events.map((e) => e.line)).toEqual([1, 2, 5]);
    expect(skipped).toBe(2);
    expect(skippedReasons[0]).toMatch(/^ev\.ndjson:3: seq "a" appears again after seq "b"/);
  });

  it("gives identical events wherever the chunks are cut", () => {
    for (const text of [NDJSON, CSV, NDJSON.replaceAll("\n", "\r\n") + "\r\n", CSV.replaceAll("\n", "\r\n")]) {
      const whole = parseChunks([text]);
      expect(whole.length).toBe(5);
      for (let cut = 0; cut <= text.length; cut++) {
        expect(parseChunks([text.slice(0, cut), text.slice(cut)])).toEqual(whole);
      }
      expect(parseChunks(Array.from(text))).toEqual(whole);
      const random = lcg(text.length);
      for (let trial = 0; trial < 50; trial++) {
        const chunks: string[] = [];
        for (let at = 0; at < text.length; ) {
          const size = Math.floor(random() * 12);
          chunks.push(text.slice(at, at + size));
          at += size;
        }
        expect(parseChunks(chunks)).toEqual(whole);
      }
    }
  });

  it("reports the same line numbers for bad lines wherever the chunks are cut", () => {
    const text = '{"t": 0, "x": [0, 0]}\r\n\r\n{"t": 1, "x": [0]}\r\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const err = thrown(() => parseChunks([text.slice(0, cut), text.slice(cut)]));
      expect(err.message).toMatch(/^ev\.ndjson:3: "x" has 1 numbers/);
    }
  });

  it("groups consecutive events by seq, one stream when there is no seq", () => {
    const groups = groupBySeq(parse(NDJSON).events);
    expect(groups.map((g) => [g.seq, g.events.map((e) => e.line), g.label])).toEqual([
      ["a", [1, 2], 1],
      [7, [4, 5], 0],
      ["b,c", [6], undefined],
    ]);
    const single = groupBySeq(parse('{"t":0,"x":[0,0]}\n{"t":1,"x":[0,0]}\n').events);
    expect(single).toHaveLength(1);
    expect(single[0].seq).toBeUndefined();
    expect(single[0].events).toHaveLength(2);
    expect(groupBySeq([])).toEqual([]);
  });

  it("gives identical events from byte chunks, cut anywhere (inside UTF-8 sequences too), as from the text", () => {
    const text = "\uFEFF" + NDJSON.replace('"b,c"', '"\u00e9\u4e2d\u{1F600}"') + "\r\n";
    const bytes = new TextEncoder().encode(text);
    const whole = parseChunks([text]);
    const fromBytes = (pieces: Uint8Array[]) => {
      const parser = new EventParser({ inputSize: 2, file: "ev.ndjson" });
      const events = pieces.flatMap((piece) => parser.pushBytes(piece));
      return [...events, ...parser.end()];
    };
    for (let cut = 0; cut <= bytes.length; cut++) expect(fromBytes([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(whole);
    expect(fromBytes(Array.from(bytes, (b) => Uint8Array.of(b)))).toEqual(whole);
  });

  describe("the line limit (issue 12, item 4)", () => {
    const line = (bytes: number, t = 1) => {
      const head = `{"t":${t},"x":[1,2],"pad":"`;
      return head + "p".repeat(bytes - head.length - 2) + '"}';
    };
    const REASON = /^ev\.ndjson:2: the line is longer than 100 bytes \(the limit; --max-line-bytes raises it\)$/;

    it("defaults to 1 MiB and takes a line of exactly the limit, LF or CRLF, text or bytes", () => {
      expect(DEFAULT_MAX_LINE_BYTES).toBe(1 << 20);
      for (const end of ["\n", "\r\n"]) {
        const text = `{"t":0,"x":[0,0]}${end}${line(100)}${end}`;
        expect(parse(text, { maxLineBytes: 100 }).events).toHaveLength(2);
        expect(thrown(() => parse(text, { maxLineBytes: 99 })).message).toMatch(/^ev\.ndjson:2: the line is longer than 99 bytes/);
        const parser = new EventParser({ inputSize: 2, file: "ev.ndjson", maxLineBytes: 99 });
        expect(thrown(() => parser.pushBytes(new TextEncoder().encode(text))).message).toMatch(/^ev\.ndjson:2: the line is longer than 99 bytes/);
        expect(parse(`${line(DEFAULT_MAX_LINE_BYTES)}${end}`).events).toHaveLength(1);
        expect(thrown(() => parse(`${line(DEFAULT_MAX_LINE_BYTES + 1)}${end}`)).message).toMatch(/longer than 1048576 bytes/);
      }
    });

    it("counts UTF-8 bytes, not characters", () => {
      const wide = `{"t":1,"x":[1,2],"pad":"${"\u00e9".repeat(40)}${"\u{1F600}".repeat(2)}"}`;
      const bytes = new TextEncoder().encode(wide).length;
      expect(bytes).toBe(wide.length + 40 + 4);
      expect(parse(wide, { maxLineBytes: bytes }).events).toHaveLength(1);
      expect(() => parse(wide, { maxLineBytes: bytes - 1 })).toThrow(`longer than ${bytes - 1} bytes`);
    });

    it("refuses a line as soon as it is known to be too long, before its end arrives", () => {
      for (const push of ["push", "pushBytes"] as const) {
        const parser = new EventParser({ inputSize: 2, file: "ev.ndjson", maxLineBytes: 100 });
        const piece = (text: string) => (push === "push" ? parser.push(text) : parser.pushBytes(new TextEncoder().encode(text)));
        expect(piece('{"t":0,"x":[0,0]}\n{"t":1,')).toHaveLength(1);
        expect(piece("p".repeat(90))).toEqual([]);
        // 101 bytes so far could still be 100 and a "\r"; 102 cannot
        expect(piece("p".repeat(4))).toEqual([]);
        expect(thrown(() => piece("p")).message).toMatch(REASON);
      }
    });

    it("with skipBad, skips an over-long line of any length in pieces, counts it once, and goes on", () => {
      for (const push of ["push", "pushBytes"] as const) {
        const parser = new EventParser({ inputSize: 2, file: "ev.ndjson", maxLineBytes: 100, skipBad: true });
        const piece = (text: string) => (push === "push" ? parser.push(text) : parser.pushBytes(new TextEncoder().encode(text)));
        const events = [...piece('{"t":0,"x":[0,0]}\n{"t":1,"x":[1,2],"pad":"')];
        for (let k = 0; k < 1000; k++) events.push(...piece("p".repeat(997)));
        events.push(...piece(`"}\n${line(150)}\n{"t":2,"x":[0,0]}\n${line(100, 3)}`), ...parser.end());
        expect(events.map((e) => [e.t, e.line])).toEqual([[0, 1], [2, 4], [3, 5]]);
        expect(parser.skipped).toBe(2);
        expect(parser.skippedReasons[0]).toMatch(REASON);
        expect(parser.skippedReasons[1]).toMatch(/^ev\.ndjson:3: the line is longer than 100 bytes/);
      }
    });
  });

  it("escapes control characters of the input and of the file name in messages", () => {
    const err = thrown(() => parse('\u001b[2J\u0007{"t":1\n', { file: "a\u001b]0;x\u0007.ndjson" }));
    expect(err.message).toMatch(/^a\\u001b\]0;x\\u0007\.ndjson:1: not JSON: .*\\u001b\[2J\\u0007/);
    expect(err.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    const csv = thrown(() => parse("t,x0,x1\n1,\u009b1m,\u202e\n", { file: "ev.csv" }));
    expect(csv.message).toBe('ev.csv:2: x0 is not a number: "\\u009b1m"');
  });
});

