/**
 * The WASI command (docs/wasi.md) is `phasor run` for WASI runtimes: on the same model and events it prints the
 * same bytes, whatever the seq ids, white space, escapes and odd-but-valid JSON of the lines; binary events give
 * what the same events as NDJSON give; and bad arguments, models and events end with exit status 2 and a message
 * naming the file, the line and the reason, as `phasor run` words it.
 */
import "../host/node.js";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelToJson } from "../host/model/model.js";
import { decodePlsm, encodePlsm } from "../host/model/plsm.js";
import { quantize } from "../host/model/quantize.js";
import { phasor } from "./support/cli.js";
import { calibrationStreams } from "./support/engines.js";
import { withMetadataText } from "./support/plsm-bytes.js";
import { Rng, randomModel, randomStream } from "./support/random.js";
import { requireWasmtime, runNodeWasi, runWasmtime, scratchDirectory } from "./support/wasi.js";

const I = 3;
const OWN_FIELD = "(a field of your own must differ from the format's by more than case or one letter)";

/** Events as NDJSON lines in many spellings `phasor run` accepts, each seq contiguous, time never going back. */
function oddLines(rng: Rng): string[] {
  const lines: string[] = [];
  const seqs = ['"plain"', '"quote \\" and \\\\ and \\/"', '"tab\\tnew\\nline\\u0001\\u001f"', '"\u00e9\u4e2d\u{1F600}"', '"\\ud83d\\ude00 pair"',
    '"lone \\ud800 and \\udfff"', "7", "-0", "1e2", "null", '"7"', "12345678901234"];
  seqs.forEach((seq, k) => {
    const stream = randomStream(rng, { n: 20, inputSize: I, start: k % 3 === 0 ? "epoch" : 0, sparsity: 0.3 });
    for (let e = 0; e < stream.t.length; e++) {
      const x = Array.from(stream.x.subarray(e * I, (e + 1) * I));
      const t = stream.t[e];
      switch (e % 6) {
        case 0:
          lines.push(`{"t":${t},"x":${JSON.stringify(x)},"seq":${seq}}`);
          break;
        case 1: // white space everywhere, keys in another order, a label and unknown keys with nested values
          lines.push(` \t{ "seq" : ${seq} , "x" : [ ${x.join(" ,\t")} ] ,"label":2, "meta": {"a": [1, {"b": null}], "c": "\\u00e9"}, "t" : ${t} }\r`);
          break;
        case 2: // numbers in other spellings: exponents, many digits
          lines.push(`{"t":${t.toExponential(20)},"x":[${x.map((v) => v.toPrecision(25)).join(",")}],"seq":${seq}}`);
          break;
        case 3: // escaped keys, and a name of the line's own given twice (a field of the event given twice is refused)
          lines.push(`{"n\\u006fte":"no","\\u0074":${t},"note":1,"\\u0078":${JSON.stringify(x)},"s\\u0065q":${seq},"label":null}`);
          break;
        case 4: // blank lines and JavaScript white space around the object
          lines.push("", "   ", `\u00a0\u2028{"t":${t},"x":${JSON.stringify(x)},"seq":${seq}}\u3000\ufeff`);
          break;
        default:
          lines.push(`{"x":${JSON.stringify(x)},"t":${t},"seq":${seq},"label":1e3}`);
      }
    }
  });
  return lines;
}

describe("phasor-wasi prints what phasor run prints", () => {
  const rng = new Rng(99);
  const model = randomModel(rng, { inputSize: I, hidden: [12], peephole: true, rOn: 0.2, outputs: 3, mode: "last", alpha: 0 });
  model.readout.labels = ["calm", 'say "hi"', "\u00e9t\u00e9"];
  const fixed = quantize(model, calibrationStreams(3, I), "wasi-command").bytes;
  const int8 = quantize(model, calibrationStreams(3, I), "wasi-command", "int8").bytes;
  const float = encodePlsm(model);
  const events = "\ufeff" + oddLines(rng).join("\n"); // a byte order mark first, no newline at the end
  let dir = "";
  beforeAll(() => {
    dir = scratchDirectory();
    writeFileSync(join(dir, "m.plsm"), fixed);
    writeFileSync(join(dir, "float.plsm"), float);
    writeFileSync(join(dir, "int8.plsm"), int8);
    writeFileSync(join(dir, "events.ndjson"), events);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const flags of [[], ["--hidden"], ["--emit", "last"], ["--emit=last", "--hidden"]]) {
    it(`the same bytes with ${flags.join(" ") || "no flags"}, for a fixed (int16 and int8 weights) and a float model`, async () => {
      for (const name of ["m.plsm", "int8.plsm", "float.plsm"]) {
        const expected = phasor(["run", "--model", join(dir, name), "--events", join(dir, "events.ndjson"), ...flags]);
        expect(expected.stderr).toBe("");
        expect(expected.status).toBe(0);
        const run = await runNodeWasi("simd", ["--model", name, ...flags], events, dir);
        expect(run.stderr).toBe("");
        expect(run.status).toBe(0);
        expect(run.stdout.toString("utf8")).toBe(expected.stdout);
      }
    });
  }

  it("reads --events from a preopened directory, as stdin", async () => {
    const fromStdin = await runNodeWasi("scalar", ["--model", "m.plsm"], events, dir);
    const fromFile = await runNodeWasi("scalar", ["--model", "./m.plsm", "--events", "events.ndjson"], "", dir);
    expect(fromFile.status).toBe(0);
    expect(fromFile.stdout.equals(fromStdin.stdout)).toBe(true);
  });

  it("decodes invalid UTF-8 in a seq as node does, to U+FFFD", async () => {
    const line = (seq: Buffer, t: number) => Buffer.concat([Buffer.from('{"t":' + t + ',"x":[1,2,3],"seq":"'), seq, Buffer.from('"}\n')]);
    const bad = Buffer.concat([
      line(Buffer.from([0x61, 0xff, 0x62]), 0),
      line(Buffer.from([0xe2, 0x82]), 1), // cut short
      line(Buffer.from([0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0x80, 0xc0, 0xaf]), 2), // an emoji, an encoded surrogate, an overlong
    ]);
    writeFileSync(join(dir, "bad-utf8.ndjson"), bad);
    const expected = phasor(["run", "--model", join(dir, "m.plsm"), "--events", join(dir, "bad-utf8.ndjson"), "--emit", "last"]);
    expect(expected.status).toBe(0);
    const run = await runNodeWasi("simd", ["--model", "m.plsm", "--emit", "last"], bad, dir);
    expect(run.stdout.toString("utf8")).toBe(expected.stdout);
  });

  it("gives for binary events what it gives for the same events as NDJSON, on node:wasi and wasmtime", async () => {
    const stream = randomStream(rng, { n: 120, inputSize: I, start: "epoch" });
    const lines: string[] = [];
    const record = 12 + 4 * I;
    const binary = Buffer.alloc(16 + stream.t.length * record);
    binary.write("PLEV", 0, "latin1");
    binary.writeUInt16LE(1, 4);
    binary.writeUInt32LE(I, 8);
    for (let e = 0; e < stream.t.length; e++) {
      const seq = e < 50 ? 4 : 4000000000;
      const at = 16 + e * record;
      binary.writeDoubleLE(stream.t[e], at);
      binary.writeUInt32LE(seq, at + 8);
      for (let i = 0; i < I; i++) binary.writeFloatLE(stream.x[e * I + i], at + 12 + 4 * i);
      lines.push(JSON.stringify({ t: stream.t[e], x: Array.from(stream.x.subarray(e * I, (e + 1) * I)), seq }));
    }
    const fromText = await runNodeWasi("simd", ["--model", "m.plsm", "--hidden"], lines.join("\n"), dir);
    const fromBinary = await runNodeWasi("simd", ["--model", "m.plsm", "--hidden"], binary, dir);
    expect(fromBinary.stderr).toBe("");
    expect(fromBinary.status).toBe(0);
    expect(fromBinary.stdout.equals(fromText.stdout)).toBe(true);
    requireWasmtime();
    const onWasmtime = runWasmtime("scalar", ["--model", "m.plsm", "--hidden"], binary, dir);
    expect(onWasmtime.stdout.equals(fromText.stdout)).toBe(true);

    const cut = await runNodeWasi("simd", ["--model", "m.plsm"], binary.subarray(0, binary.length - 5), dir);
    expect(cut.status).toBe(2);
    expect(cut.stderr).toBe(`phasor-wasi: stdin:record 120: the input ends inside the record (${record - 5} of ${record} bytes)\n`);
    const wrongSize = Buffer.from(binary);
    wrongSize.writeUInt32LE(I + 1, 8);
    expect((await runNodeWasi("simd", ["--model", "m.plsm"], wrongSize, dir)).stderr).toBe(
      `phasor-wasi: stdin:record 0: the events have inputSize ${I + 1}, the model's inputSize is ${I}\n`,
    );
  });
});

describe("phasor-wasi refuses what phasor run refuses", () => {
  const rng = new Rng(7);
  const model = randomModel(rng, { inputSize: I, hidden: [6], peephole: false, rOn: 0.5, outputs: 2, mode: "every" });
  const image = quantize(model, calibrationStreams(8, I), "refusals").bytes;
  let dir = "";
  beforeAll(() => {
    dir = scratchDirectory();
    writeFileSync(join(dir, "m.plsm"), image);
    const corrupt = image.slice();
    corrupt[200] ^= 4;
    writeFileSync(join(dir, "corrupt.plsm"), corrupt);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const good = (t: number, seq = '"a"') => `{"t":${t},"x":[0.1,0.2,0.3],"seq":${seq}}`;
  // Each: the lines, then the reason both commands give for its last line.
  const cases: [string[], string][] = [
    [[good(0), '{"t":1,"x":[1,2]}'], "\"x\" has 2 numbers, the model's inputSize is 3"],
    [['{"x":[1,2,3]}'], 'missing "t"'],
    [['{"t":"1","x":[1,2,3]}'], '"t" must be a number, got "1"'],
    [['{"t":1e999,"x":[1,2,3]}'], '"t" is not finite'],
    [['{"t":1}'], 'missing "x"'],
    [['{"t":1,"x":{"a":1}}'], '"x" must be an array of 3 numbers, got {"a":1}'],
    [['{"t":1,"x":[1,true,3]}'], '"x[1]" must be a number, got true'],
    [['{"t":1,"x":[1,2,-1e400]}'], '"x[2]" is not finite'],
    [['{"t":1,"x":[1,2,3],"seq":1.5}'], '"seq" must be a string or an integer, got 1.5'],
    [['{"t":1,"x":[1,2,3],"seq":9007199254740993}'], '"seq" is an integer beyond +-(2^53 - 1), which JSON numbers do not hold exactly: give such an id as a string'],
    [['{"t":1,"x":[1,2,3],"label":"one"}'], '"label" must be a finite number, got "one"'],
    [["[1,2,3]"], "not a JSON object"],
    [[good(0), good(5), good(4)], 'time goes backwards within seq "a": t = 4 after t = 5'],
    [['{"t":3,"x":[1,2,3]}', '{"t":2,"x":[1,2,3]}'], "time goes backwards: t = 2 after t = 3"],
    [[good(0, "1"), good(0, '"b"'), good(1, "1")], 'seq 1 appears again after seq "b": the events of one seq must be contiguous (it ended at line 1)'],
    [[good(0), "", good(1, "null"), good(2)], 'seq "a" appears again after the events without seq: the events of one seq must be contiguous (it ended at line 1)'],
    // a field that looks like one of the format's misspelt, even escaped; the first of them in the line is named
    [[good(0), '{"t":1,"x":[1,2,3],"Seq":"a"}'], `"Seq" looks like "seq" misspelt ${OWN_FIELD}`],
    [['{"t":1,"x":[1,2,3],"SEQ":"a"}'], `"SEQ" looks like "seq" misspelt ${OWN_FIELD}`],
    [['{"T":1,"x":[1,2,3]}'], `"T" looks like "t" misspelt ${OWN_FIELD}`],
    [['{"t":1,"\\u0058":[1,2,3]}'], `"X" looks like "x" misspelt ${OWN_FIELD}`],
    [['{"t":1,"x":[1,2,3],"Label":1}'], `"Label" looks like "label" misspelt ${OWN_FIELD}`],
    [['{"t":1,"x":[1,2,3],"note":1,"lable":1,"Seq":2,"lable":3}'], `"lable" looks like "label" misspelt ${OWN_FIELD}`],
    [['{"t":1,"x":[1,2,3],"labels":1}'], `"labels" looks like "label" misspelt ${OWN_FIELD}`],
    [['{"t":1,"x":[1,2,3],"labl":1}'], `"labl" looks like "label" misspelt ${OWN_FIELD}`],
    [['{"t":1,"x":[1,2,3],"lAbEk":1}'], `"lAbEk" looks like "label" misspelt ${OWN_FIELD}`],
    // a field of the event given twice, even escaped or with the same value: JSON.parse keeps the last, and before,
    // both ran the line with it; the first repeated in the line is named, after any lookalike and before any value
    [[good(0), '{"t":1,"x":[1,2,3],"t":2}'], '"t" is given twice'],
    [['{"\\u0074":1,"x":[1,2,3],"t":1}'], '"t" is given twice'],
    [['{"t":1,"x":[1,2],"x":[1,2,3],"t":2}'], '"x" is given twice'],
    [['{"t":1,"x":[1,2,3],"seq":"a","seq":"a","label":"no"}'], '"seq" is given twice'],
    [['{"t":1,"x":[1,2,3],"label":null,"Seq":1,"label":2}'], `"Seq" looks like "seq" misspelt ${OWN_FIELD}`],
    // the engine's clock: before, phasor-wasi said "the stream has run longer than 2^62 ticks since its first
    // event; start a new stream", in words of its own
    [[good(3.5), good(1e300)], "event at t=1e+300: more than 2^62 ticks after the stream's first event (t=3.5), beyond what the engine's clock counts; start a new stream"],
    // fields of the line's own, sq among them (seq is too short for the one-edit rule), then a bad line
    [['{"t":1,"x":[1,2,3],"id":1,"sq":"b","sensor":"s","labelled":1,"l\u00e4bel":1}', '{"t":0,"x":[1,2,3]}'], "time goes backwards: t = 0 after t = 1"],
  ];
  for (const [lines, reason] of cases) {
    it(`line ${lines.length}: ${reason}`, async () => {
      const input = lines.join("\n") + "\n";
      const cli = phasor(["run", "--model", join(dir, "m.plsm"), "--events", "-"], input);
      const run = await runNodeWasi("scalar", ["--model", "m.plsm"], input, dir);
      // the lines before the bad one may hold inputs beyond the model's input format: then both warn first, alike
      const warning = cli.stderr.startsWith("phasor run: warning: ") ? cli.stderr.slice(0, cli.stderr.indexOf("\n") + 1) : "";
      expect(cli.stderr).toBe(`${warning}phasor run: stdin:${lines.length}: ${reason}\n`);
      expect(run.stderr).toBe(`${warning.replace("phasor run", "phasor-wasi")}phasor-wasi: stdin:${lines.length}: ${reason}\n`);
      expect(run.status).toBe(2);
      // the events before the bad line were run and printed
      const printed = run.stdout.toString("utf8").split("\n").filter((line) => line !== "");
      expect(printed).toHaveLength(lines.slice(0, -1).filter((line) => line !== "").length);
    });
  }

  it("refuses a line nested deeper than its JSON reader reads, as phasor run does, and reads one as deep", async () => {
    // before, phasor run read the deeper line and phasor-wasi refused it
    const nested = (arrays: number) => `${good(0)}\n{"t":1,"x":[0.1,0.2,0.3],"own":${"[".repeat(arrays)}${"]".repeat(arrays)}}\n`;
    const cli = phasor(["run", "--model", join(dir, "m.plsm"), "--events", "-"], nested(512));
    const run = await runNodeWasi("scalar", ["--model", "m.plsm"], nested(512), dir);
    expect(cli.stderr).toMatch(/^phasor run: stdin:2: not JSON: /);
    expect(run.stderr).toMatch(/^phasor-wasi: stdin:2: not JSON: values nested too deeply at column \d+\n$/);
    expect([cli.status, run.status]).toEqual([2, 2]);
    const deepest = phasor(["run", "--model", join(dir, "m.plsm"), "--events", "-"], nested(511));
    const deepestRun = await runNodeWasi("scalar", ["--model", "m.plsm"], nested(511), dir);
    expect([deepest.stderr, deepestRun.stderr, deepest.status, deepestRun.status]).toEqual(["", "", 0, 0]);
    expect(deepestRun.stdout.toString("utf8")).toBe(deepest.stdout);
  });

  it("says where JSON is malformed, CSV is not read, and a refused input is named", async () => {
    const malformed = await runNodeWasi("simd", ["--model", "m.plsm"], `${good(0)}\n{"t":1,"x":[1,2,3]\n`, dir);
    expect(malformed.stderr).toBe("phasor-wasi: stdin:2: not JSON: unexpected end of the line at column 19\n");
    expect(malformed.status).toBe(2);
    const csv = await runNodeWasi("simd", ["--model", "m.plsm"], "t,x0,x1,x2\n0,1,2,3\n", dir);
    expect(csv.stderr).toMatch(/^phasor-wasi: stdin:1: CSV events are not read by phasor-wasi/);
    // a CSV header whose t is not first is no CSV header to either reader: both say what one needs
    for (const header of ["seq,t,x0,x1,x2", 'x0 , x1, x2, "t"']) {
      const later = await runNodeWasi("simd", ["--model", "m.plsm"], `${header}\n1,0,1,2,3\n`, dir);
      expect(later.stderr).toMatch(/^phasor-wasi: stdin:1: not JSON: .* \(a CSV file needs a header line starting with "t,"\)\n$/);
      const cli = phasor(["run", "--model", join(dir, "m.plsm"), "--events", "-"], `${header}\n1,0,1,2,3\n`);
      expect(cli.stderr).toMatch(/^phasor run: stdin:1: not JSON: .* \(a CSV file needs a header line starting with "t,"\)\n$/);
    }
    // nor is a word that merely holds a t
    const word = await runNodeWasi("simd", ["--model", "m.plsm"], "test,x0\n", dir);
    expect(word.stderr).not.toMatch(/header line/);
    // beyond the f32 range, even where it would round down to the largest f32 (3.4028235e38), as phasor run refuses it
    for (const huge of ["1e39", "3.4028235e38", "-3.40282350e38"]) {
      const input = `{"t":0,"x":[1,2,${huge}]}\n`;
      const cli = phasor(["run", "--model", join(dir, "m.plsm"), "--events", "-"], input);
      expect(cli.stderr).toBe('phasor run: stdin:1: "x[2]" is beyond the 32-bit float range (+-3.4e38) the engines take\n');
      const run = await runNodeWasi("simd", ["--model", "m.plsm"], input, dir);
      expect(run.stderr).toBe(cli.stderr.replace("phasor run:", "phasor-wasi:"));
      expect(run.status).toBe(2);
    }
  });

  it("refuses bad arguments and models with exit status 2", async () => {
    const cases: [string[], string][] = [
      [[], "phasor-wasi: missing --model M (quantized model, .plsm)\n"],
      [["--model"], "phasor-wasi: --model needs a value\n"],
      [["--model", "m.plsm", "--emit", "all"], 'phasor-wasi: --emit must be one of every, last (got "all")\n'],
      [["--model", "m.plsm", "--fast"], "phasor-wasi: unknown flag --fast (accepted: --model, --events, --emit, --hidden, --max-line-bytes, --learn, --learn-c, --readout-in, --readout-out, --readout-write)\n"],
      [["--model", "m.plsm", "--hidden", "--hidden"], "phasor-wasi: --hidden is given twice\n"],
      [["--model", "m.plsm", "extra"], 'phasor-wasi: unexpected argument "extra" (flags start with --)\n'],
      [["--model", "missing.plsm"], "phasor-wasi: missing.plsm: cannot read the model file: no such file\n"],
      [["--model", "/elsewhere/m.plsm"], "phasor-wasi: /elsewhere/m.plsm: cannot read the model file: no preopened directory holds it (give the runtime --dir)\n"],
      [["--model", "corrupt.plsm"], "phasor-wasi: corrupt.plsm: plsm: checksum mismatch, the file is corrupted\n"],
      [["--model", "m.plsm", "--events", "none.ndjson"], "phasor-wasi: none.ndjson: cannot open: no such file\n"],
    ];
    for (const [args, message] of cases) {
      const run = await runNodeWasi("simd", args, "", dir);
      expect(run.stderr, args.join(" ")).toBe(message);
      expect(run.status, args.join(" ")).toBe(2);
    }
    const help = await runNodeWasi("simd", ["--model", "m.plsm", "--help"], "", dir);
    expect(help.status).toBe(0);
    expect(help.stdout.toString("utf8")).toMatch(/^usage: phasor-wasi --model M\.plsm/);
  });
});

describe("phasor-wasi takes a .plsm's metadata when phasor run does", () => {
  // before: phasor-wasi read a metadata that was JSON but no object, one giving "labels" or "timeUnit" twice (the
  // last kept) and one nested past its reader's depth (as "not valid JSON"), where phasor run refused the first two and
  // ran the last
  const rng = new Rng(11);
  const model = randomModel(rng, { inputSize: I, hidden: [5], peephole: false, rOn: 0.5, outputs: 2, mode: "last" });
  const plain = decodePlsm(quantize(model, calibrationStreams(4, I), "metadata").bytes, "m.plsm");
  const events = '{"t":0,"x":[0.1,0.2,0.3]}\n{"t":1,"x":[0.3,0.2,0.1]}\n';
  let dir = "";
  beforeAll(() => {
    dir = scratchDirectory();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const withText = (text: string) => withMetadataText(plain, text);
  const deep = (arrays: number) => `{"timeUnit":"ms","x":${"[".repeat(arrays)}${"]".repeat(arrays)}}`;
  const cases: [string, string, string | undefined][] = [
    ["no object", "[1, 2]", "metadata is not a JSON object"],
    ["timeUnit twice", '{"timeUnit": "ms", "timeUnit": "ms"}', 'metadata gives "timeUnit" twice: JSON would keep only the last'],
    ["labels twice", '{"labels": ["a", "b"], "timeUnit": "ms", "\\u006cabels": ["b", "a"]}', 'metadata gives "labels" twice: JSON would keep only the last'],
    ["sensors twice", '{"timeUnit": "ms", "sensors": [], "sensors": []}', 'metadata gives "sensors" twice: JSON would keep only the last'],
    ["too deep", deep(512), "metadata nests arrays and objects more than 512 deep, which phasor-wasi does not read"],
    ["as deep as read", deep(511), undefined],
    ["a name of its own twice, and one inside sensors", '{"timeUnit": "ms", "n": 1, "n": 2, "sensors": {"hold": true, "hold": false}}', undefined],
  ];
  for (const [name, text, refusal] of cases) {
    it(`${name}: ${refusal ?? "run"}`, async () => {
      writeFileSync(join(dir, "m.plsm"), withText(text));
      const cli = phasor(["run", "--model", join(dir, "m.plsm"), "--events", "-"], events);
      const run = await runNodeWasi("scalar", ["--model", "m.plsm"], events, dir);
      if (refusal === undefined) {
        expect(cli.stderr).toBe("");
        expect(run.stderr).toBe("");
        expect(run.stdout.toString("utf8")).toBe(cli.stdout);
      } else {
        expect(cli.stderr).toBe(`phasor run: ${join(dir, "m.plsm")}: ${refusal}\n`);
        expect(run.stderr).toBe(`phasor-wasi: m.plsm: ${refusal}\n`);
      }
      expect(run.status).toBe(cli.status);
    });
  }
});

describe("phasor-wasi under stress (issue 12, item 5)", () => {
  const rng = new Rng(12);
  const model = randomModel(rng, { inputSize: 1, hidden: [4], peephole: false, rOn: 0.5, outputs: 2, mode: "last" });
  let dir = "";
  beforeAll(() => {
    dir = scratchDirectory();
    writeFileSync(join(dir, "m.plsm"), quantize(model, calibrationStreams(4, 1), "stress").bytes);
    writeFileSync(join(dir, "float.json"), JSON.stringify(modelToJson(model)));
    mkdirSync(join(dir, "models.plsm"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** An NDJSON event line of exactly `bytes` bytes. */
  const lineOf = (bytes: number, t: number) => {
    const head = `{"t":${t},"x":[0.25],"pad":"`;
    return head + "p".repeat(bytes - head.length - 2) + '"}';
  };

  it("says a directory is a directory, for the model and for --events", async () => {
    const model = await runNodeWasi("simd", ["--model", "models.plsm"], "", dir);
    expect(model.stderr).toBe("phasor-wasi: models.plsm: cannot read the model file: it is a directory\n");
    expect(model.status).toBe(2);
    const events = await runNodeWasi("simd", ["--model", "m.plsm", "--events", "models.plsm"], "", dir);
    expect(events.stderr).toBe("phasor-wasi: models.plsm: cannot open: it is a directory\n");
    requireWasmtime();
    expect(runWasmtime("scalar", ["--model", "models.plsm"], "", dir).stderr).toBe(model.stderr);
  });

  it("a model or readout that is a pipe is refused, not waited on", () => {
    // in a process of its own with a time limit: before, opening the pipe waited for a writer, for ever
    rmSync(join(dir, "model.fifo"), { force: true });
    expect(spawnSync("mkfifo", [join(dir, "model.fifo")]).status).toBe(0);
    for (const args of [["--model", "model.fifo"], ["--model", "m.plsm", "--readout-in", "model.fifo"]]) {
      const run = spawnSync("node", [resolve("test/support/node-wasi-command.mjs"), ...args], { cwd: dir, input: "", encoding: "utf8", timeout: 30_000 });
      const what = args[1] === "model.fifo" ? "the model file" : "the readout file";
      expect(run.stderr, args.join(" ")).toBe(`phasor-wasi: model.fifo: cannot read ${what}: not a regular file (a pipe or a device), and a file read whole from one may never end\n`);
      expect(run.status, args.join(" ")).toBe(2);
    }
  });

  it("says a JSON model is one, and what it takes instead", async () => {
    const run = await runNodeWasi("simd", ["--model", "float.json"], "", dir);
    expect(run.stderr).toBe("phasor-wasi: float.json: a JSON float model: phasor-wasi runs a quantized model (.plsm); make one with `phasor quantize`\n");
    expect(run.status).toBe(2);
  });

  it("prints a binary inputSize of 0xffffffff unsigned, and refuses it", async () => {
    const header = Buffer.alloc(16);
    header.write("PLEV", 0, "latin1");
    header.writeUInt16LE(1, 4);
    header.writeUInt32LE(0xffffffff, 8);
    const run = await runNodeWasi("simd", ["--model", "m.plsm"], header, dir);
    expect(run.stderr).toBe("phasor-wasi: stdin:record 0: the events have inputSize 4294967295, the model's inputSize is 1\n");
    expect(run.status).toBe(2);
  });

  it("refuses a line over --max-line-bytes as phasor run does, and takes one of exactly the limit", async () => {
    const cases = [[1 << 20, [], "\n"], [300, ["--max-line-bytes", "300"], "\r\n"], [300, ["--max-line-bytes=300"], "\n"]] as const;
    for (const [limit, flags, end] of cases) {
      const ok = `{"t":0,"x":[0.5]}${end}${lineOf(limit, 1)}${end}`;
      const expected = phasor(["run", "--model", join(dir, "m.plsm"), "--events", "-", ...flags], ok);
      expect(expected.status).toBe(0);
      const run = await runNodeWasi("scalar", ["--model", "m.plsm", ...flags], ok, dir);
      expect(run.status).toBe(0);
      expect(run.stdout.toString()).toBe(expected.stdout);
      const over = `{"t":0,"x":[0.5]}${end}${lineOf(limit + 1, 1)}${end}{"t":2,"x":[0.5]}${end}`;
      const cli = phasor(["run", "--model", join(dir, "m.plsm"), "--events", "-", ...flags], over);
      expect(cli.stderr).toBe(`phasor run: stdin:2: the line is longer than ${limit} bytes (the limit; --max-line-bytes raises it)\n`);
      const refused = await runNodeWasi("scalar", ["--model", "m.plsm", ...flags], over, dir);
      expect(refused.stderr).toBe(cli.stderr.replace("phasor run:", "phasor-wasi:"));
      expect(refused.status).toBe(2);
      expect(refused.stdout.toString()).toBe(cli.stdout);
    }
    for (const value of ["0", "268435457", "1.5", "-3", "lots"]) {
      const run = await runNodeWasi("simd", ["--model", "m.plsm", "--max-line-bytes", value], "", dir);
      expect(run.stderr).toBe(`phasor-wasi: --max-line-bytes must be an integer in [1, 268435456] (got "${value}")\n`);
      expect(run.status).toBe(2);
    }
  });

  it("refuses a 150 MB line at the default limit with its memory bounded by the limit, not the line", async () => {
    const line = Buffer.alloc(150 * (1 << 20), "p");
    line.write('{"t":0,"x":[0.5],"pad":"', 0, "latin1");
    const run = await runNodeWasi("simd", ["--model", "m.plsm"], Buffer.concat([line, Buffer.from('"}\n')]), dir);
    expect(run.stderr).toBe("phasor-wasi: stdin:1: the line is longer than 1048576 bytes (the limit; --max-line-bytes raises it)\n");
    expect(run.status).toBe(2);
    expect(run.memoryBytes).toBeLessThanOrEqual(8 << 20);
  });

  it("runs a 90 MB line with a raised limit on wasmtime (it failed to read there before), as the line without its padding", async () => {
    requireWasmtime();
    const line = Buffer.alloc(90 * (1 << 20), "p");
    line.write('{"t":0,"x":[0.5],"pad":"', 0, "latin1");
    const input = Buffer.concat([line, Buffer.from('"}\n{"t":1,"x":[-0.5]}\n')]);
    const run = runWasmtime("simd", ["--model", "m.plsm", "--max-line-bytes", "268435456"], input, dir);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const short = await runNodeWasi("simd", ["--model", "m.plsm"], '{"t":0,"x":[0.5]}\n{"t":1,"x":[-0.5]}\n', dir);
    expect(run.stdout.equals(short.stdout)).toBe(true);
  });

  it("escapes control characters of the input in its messages as phasor run does", async () => {
    const cases = [
      `{"t":0,"x":[0.5]}\n{"t":1,"x":["\u009b31m\u202e\u2028"]}\n`,
      `{"t":0,"x":[0.5],"seq":"\\u001b[2J\u2066"}\n{"t":0,"x":[0.5],"seq":2}\n{"t":1,"x":[0.5],"seq":"\\u001b[2J\u2066"}\n`,
      `{"t":1,"x":"${"\u00e9".repeat(30)}\u0085"}\n`,
    ];
    for (const input of cases) {
      const cli = phasor(["run", "--model", join(dir, "m.plsm"), "--events", "-"], input);
      expect(cli.status).toBe(2);
      const run = await runNodeWasi("simd", ["--model", "m.plsm"], input, dir);
      expect(run.stderr).toBe(cli.stderr.replace("phasor run:", "phasor-wasi:"));
      expect(run.stderr.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    }
    const raw = Buffer.concat([Buffer.from('{"t":1,"x":[0.5],"seq":'), Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0x07, 0xff, 0xed, 0xa0, 0x80]), Buffer.from("}\n")]);
    const run = await runNodeWasi("simd", ["--model", "m.plsm"], raw, dir);
    expect(run.stderr).toBe("phasor-wasi: stdin:1: not JSON: unexpected character at column 24\n");
    const named = await runNodeWasi("simd", ["--model", "\u001b]0;x\u0007.plsm"], "", dir);
    expect(named.stderr).toBe("phasor-wasi: \\u001b]0;x\\u0007.plsm: cannot read the model file: no such file\n");
  });
});

