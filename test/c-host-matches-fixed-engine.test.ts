/**
 * The C host (host/c/phasor_host.c), compiled with gcc against the wasmtime engine of the Python wheel through the
 * standard wasm C API, runs the MCU build over CSV events and prints `phasor run`'s bytes; every y it prints reads
 * back as exactly the double the library's fixed engine computes. Every failure is refused with a message that
 * says where and why, and the exit status of formats.md.
 */
import "../host/node.js";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MAX_LINE_BYTES, MAX_LINE_BYTES_LIMIT } from "../host/engine/events.js";
import { encodePlsm } from "../host/model/plsm.js";
import { MCU_TOO_BIG } from "../host/engine/mcu.js";
import { quantize } from "../host/model/quantize.js";
import { cHost, declaredFunctions, eventsCsv, exportedFunctions, runCHost, wasmtimeLibrary } from "./support/c-host.js";
import { phasor } from "./support/cli.js";
import { calibrationStreams } from "./support/engines.js";
import { MCU_FILE, mcuInstance, mcuLoad } from "./support/mcu.js";
import { Rng, randomModel } from "./support/random.js";
import { firstBitDifference, libraryRun, sameBitsFixtures, seqOfEvents } from "./support/same-bits.js";

let host = "";
let dir = "";
beforeAll(() => {
  host = cHost();
  dir = mkdtempSync(join(tmpdir(), "phasor-c-host-test-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** y of every line of the host's NDJSON, in order. */
function printedY(stdout: Buffer): number[] {
  return stdout
    .toString("utf8")
    .trimEnd()
    .split("\n")
    .flatMap((line) => (JSON.parse(line) as { y: number[] }).y);
}

describe("the C host links against the wheel's engine", () => {
  it("every function host/c/wasm_api.h declares is exported by _libwasmtime.so", () => {
    const declared = declaredFunctions(readFileSync("host/c/wasm_api.h", "utf8"));
    expect(declared.length).toBeGreaterThan(30);
    const exported = exportedFunctions(wasmtimeLibrary());
    expect(declared.filter((name) => !exported.has(name))).toEqual([]);
  });
});

describe.each(sameBitsFixtures().map((f) => [f.name, f] as const))("the C host on the MCU build: %s", (_, f) => {
  it("prints the bytes phasor run prints, and the fixed engine's y bit for bit", async () => {
    const model = join(dir, `${f.name.length}.plsm`);
    const events = join(dir, `${f.name.length}.csv`);
    writeFileSync(model, f.image);
    const seqs = seqOfEvents(f);
    writeFileSync(events, eventsCsv(f.inputSize, f.t, f.x, (e) => seqs[e]));

    const c = runCHost(host, ["--module", MCU_FILE, "--model", model, "--events", events]);
    expect(c.stderr).toBe("");
    expect(c.status).toBe(0);
    const cli = phasor(["run", "--model", model, "--events", events]);
    expect(cli.status).toBe(0);
    expect(c.stdout.equals(Buffer.from(cli.stdout, "utf8")), "the C host's stdout is phasor run's, byte for byte").toBe(true);

    const library = await libraryRun(f, "off");
    const y = printedY(c.stdout);
    expect(y).toHaveLength(f.t.length * f.outputSize);
    expect(firstBitDifference(y, library.y)).toBe(-1);
  });
});

describe("the C host on int8 weights", () => {
  it("runs them on build/phasor-mcu-int8.wasm without being told, and prints phasor run's bytes", () => {
    const rng = new Rng(88);
    const float = randomModel(rng, { inputSize: 3, hidden: [40, 12], peephole: true, rOn: 0.2, outputs: 3, mode: "every" });
    const file = join(dir, "int8-host.plsm");
    writeFileSync(file, quantize(float, calibrationStreams(88, 3), "m", "int8").bytes);
    const events = join(dir, "int8-host.csv");
    const t = Array.from({ length: 400 }, (_, e) => 1.7e12 + e * 1.25 + (e % 7) * 0.01);
    const x = Array.from({ length: 1200 }, () => rng.uniform(-1, 1));
    writeFileSync(events, eventsCsv(3, t, x, (e) => (e < 200 ? 1 : 2)));
    const c = runCHost(host, ["--model", file, "--events", events]);
    expect(c.stderr).toBe("");
    expect(c.status).toBe(0);
    expect(c.stdout.toString("utf8")).toBe(phasor(["run", "--model", file, "--events", events]).stdout);
  });
});

describe("the C host reads CSV as phasor run reads it", () => {
  it("quoted and integer seq ids, escapes, a byte-order mark, CRLF, blank lines, white space and other columns", () => {
    const model = join(dir, "csv.plsm");
    writeFileSync(model, smallModel(7));
    const events =
      "\uFEFFt, x1 ,note,x0,seq,label\r\n" +
      '0,0.25,"a, b",0.5,"tab\tand \\ and ""quote""",1\r\n' +
      "\r\n" +
      '1e3,-0.125,,  0.5 ,"tab\tand \\ and ""quote""",\r\n' +
      '2,0.25,x,0.5,"\u0001\u00e9\u{1F600}",\n' +
      "3,0.25,x,0.5,007,0\n" +
      "4.5,.5,x,+0.5,7,0\n" +
      '5,0.25,x,0.5,"17",\n' +
      "6,0.25,x,0.5,-0,\n" +
      "7,0.25,x,0.5,99999999999999999999,\n" +
      "8,0.25,x,0.5,,\n" +
      "9,1E-2,x,0.5,\u00a0spaced\u00a0,\n" +
      "1700000000000.125,0.25,x,0.5,epoch,2";
    const file = join(dir, "odd.csv");
    writeFileSync(file, events);
    const c = runCHost(host, ["--module", MCU_FILE, "--model", model, "--events", file]);
    expect(c.stderr).toBe("");
    expect(c.status).toBe(0);
    const cli = phasor(["run", "--model", model, "--events", file]);
    expect(cli.status).toBe(0);
    expect(c.stdout.toString("utf8")).toBe(cli.stdout);
    expect(cli.stdout.split("\n")).toHaveLength(11 + 1);
  });
});

/** A small model and its image, quantized on calibration streams. */
function smallModel(seed: number, hidden: number[] = [6]): Uint8Array {
  const float = randomModel(new Rng(seed), { inputSize: 2, hidden, peephole: true, rOn: 0.3, outputs: 2, mode: "every", alpha: 0 });
  return quantize(float, calibrationStreams(seed, 2), "small").bytes;
}

describe("the C host refuses what it cannot run", () => {
  let model = "";
  beforeAll(() => {
    model = join(dir, "small.plsm");
    writeFileSync(model, smallModel(5));
  });
  /** Two labelled events for the learning runs, in a file. */
  const labelledEvents = () => {
    const file = join(dir, "labelled.csv");
    writeFileSync(file, "t,x0,x1,label\n1,0.5,0.25,1\n2,0.5,0.25,0\n");
    return file;
  };
  const runOn = (events: string, args: string[] = []) => {
    const file = join(dir, "events.csv");
    writeFileSync(file, events);
    return { c: runCHost(host, ["--module", MCU_FILE, "--model", model, "--events", file, ...args]), file };
  };

  it("a bad event line: the outputs before it, then the file, line and reason phasor run gives, exit 2", () => {
    const cases = [
      "t,x0,x1,seq\n1,0.5,0.25,a\n2,0.5,oops,a\n",
      "t,x0,x1,seq\n1,0.5,0.25,a\n0.5,0.5,0.25,a\n",
      't,x0,x1,seq\n1,0.5,0.25,a\n2,0.5,0.25,"b"\n3,0.5,0.25,a\n',
      "t,x0,x1\n1,0.5,0.25\n2,0.5\n",
      "t,x0,x1\n1,0.5,1e39\n",
      "t,x0,x1\n1,0.5,\"0.25\n",
      "t,x0\n1,0.5\n",
      "t,x0,x1,x1\n1,0.5,0.25,0.25\n",
      "t,x0,x1,label\n1,0.5,0.25,yes\n",
      "t,x0,x1\nInfinity,0.5,0.25\n",
      // a column that looks like one of the format's misspelt; then columns of the file's own near them, taken
      "t,x0,x1,Seq\n1,0.5,0.25,a\n",
      "t,X0,x1\n1,0.5,0.25\n",
      "t,x0,x1,T\n1,0.5,0.25,2\n",
      "t,x0,x1,X7\n1,0.5,0.25,2\n",
      "t,x0,x1,lable\n1,0.5,0.25,1\n",
      't,x0,x1,"LABEL"\n1,0.5,0.25,1\n',
      "t,x0,x1,labl\n1,0.5,0.25,1\n",
      "t,x0,x1,id,sq,labelled,x00\n1,0.5,0.25,1,2,3,4\n0,0.5,0.25,1,2,3,4\n",
      // an event the engine refuses, more than 2^62 ticks after its sequence's first event (before: the C host's own
      // words, "the engine refused the event: the sequence has run longer than 2^62 ticks ...")
      "t,x0,x1\n0,0.5,0.25\n1e17,0.5,0.25\n",
      "t,x0,x1,seq\n0,0.5,0.25,a\n2.5,0.5,0.25,b\n123456789012345680000,0.5,0.25,b\n",
    ];
    for (const events of cases) {
      const { c, file } = runOn(events);
      const cli = phasor(["run", "--model", model, "--events", file]);
      expect(cli.status, events).toBe(2);
      expect(c.status, events).toBe(2);
      expect(c.stderr, events).toBe(cli.stderr.replace(/^phasor run: /, "phasor_host: "));
      expect(c.stdout.toString("utf8"), events).toBe(cli.stdout);
    }
  });

  it("inputs beyond the model's input format: phasor run's warning, first, with the count and the first line; its outputs", () => {
    const cases: [string, number][] = [
      ["t,x0,x1\n1,0.5,0.25\n2,1e6,-1e6\n3,0.5,1e9\n", 0],
      ["t,x0,x1,seq\n1,0.5,0.25,a\n2,0.5,-3e4,a\n1,0.5,0.25,b\n2,7e5,0.25,b\n", 0],
      // a bad line after them: the warning of the lines run, then the message
      ["t,x0,x1\n1,0.5,0.25\n2,1e6,0.25\n3,0.5,oops\n", 2],
      // within the format: no warning
      ["t,x0,x1\n1,0.5,0.25\n2,-0.5,0.25\n", 0],
    ];
    let warned = 0;
    for (const [events, status] of cases) {
      const { c, file } = runOn(events);
      const cli = phasor(["run", "--model", model, "--events", file]);
      expect(cli.status, events).toBe(status);
      expect(c.status, events).toBe(status);
      expect(c.stderr, events).toBe(cli.stderr.replaceAll("phasor run: ", "phasor_host: "));
      expect(c.stdout.toString("utf8"), events).toBe(cli.stdout);
      if (/^phasor run: warning: \d+ input values? (was|were) beyond/.test(cli.stderr)) warned++;
    }
    expect(warned).toBe(3);
  });

  it("a line longer than --max-line-bytes: phasor run's bytes, its file, line and words, for every way to reach the limit", () => {
    // a row of `bytes` bytes: x1's text padded with zeros
    const row = (t: number, bytes: number) => {
      const head = `${t},0.5,0.25`;
      return head + "0".repeat(bytes - head.length);
    };
    const header = "t,x0,x1\n";
    const cases: [string, string[]][] = [
      [`${header}${row(1, 20)}\n${row(2, 20)}\n`, ["--max-line-bytes", "20"]],
      [`${header}${row(1, 20)}\n${row(2, 21)}\n${row(3, 20)}\n`, ["--max-line-bytes", "20"]],
      // the CR of a CRLF is not counted: 20 bytes and a CR pass, 21 and a CR do not
      [`${header}${row(1, 20)}\r\n${row(2, 20)}\r\n`, ["--max-line-bytes", "20"]],
      [`${header}${row(1, 20)}\r\n${row(2, 21)}\r\n`, ["--max-line-bytes", "20"]],
      // only the CR of the line end: one more before it counts
      [`${header}${row(1, 20)}\r\r\n`, ["--max-line-bytes", "20"]],
      // a last line without a newline, within and over the limit
      [`${header}${row(1, 20)}`, ["--max-line-bytes", "20"]],
      [`${header}${row(1, 21)}`, ["--max-line-bytes", "20"]],
      // the header, and its byte-order mark, count as any line
      [`\uFEFFt,x0,x1\n${row(1, 10)}\n`, ["--max-line-bytes", "10"]],
      [`\uFEFFt,x0,x1\n${row(1, 10)}\n`, ["--max-line-bytes", "9"]],
      // blank lines count too, and a line far over the limit is refused as soon as it passes it
      [`${header}\n${" ".repeat(30)}\n${row(1, 20)}\n`, ["--max-line-bytes", "20"]],
      [`${header}${row(1, 12)}\n${row(2, 1 << 20)}\n`, ["--max-line-bytes", "12"]],
      [`${header}${row(1, 40)}\n${row(2, (1 << 20) + 1)}\n`, []],
      [`${header}${row(1, 10)}\n`, ["--max-line-bytes", "1"]],
    ];
    let refused = 0;
    for (const [events, args] of cases) {
      const { c, file } = runOn(events, args);
      const cli = phasor(["run", "--model", model, "--events", file, ...args]);
      const what = `${JSON.stringify(events.slice(0, 80))} ${args.join(" ")}`;
      expect(c.stderr, what).toBe(cli.stderr.replace(/^phasor run: /, "phasor_host: "));
      expect(c.status, what).toBe(cli.status);
      expect(c.stdout.toString("utf8"), what).toBe(cli.stdout);
      if (cli.stderr.includes("longer than")) refused++;
    }
    // the cases reach both sides of the limit
    expect(refused).toBe(9);
  });

  it("--max-line-bytes that is not an integer in [1, 2^28]: phasor run's words, exit 2", () => {
    for (const value of ["0", "1.5", "abc", "-3", "268435457", "1e9"]) {
      const c = runCHost(host, ["--model", model, "--events", "-", "--max-line-bytes", value]);
      const cli = phasor(["run", "--model", model, "--events", "-", "--max-line-bytes", value]);
      expect(c.stderr, value).toBe(cli.stderr.replace(/^phasor run: /, "phasor_host: "));
      expect(c.status, value).toBe(2);
    }
  });

  it("its line limit is phasor run's: the same default and the same largest limit", () => {
    const header = readFileSync("host/c/csv_events.h", "utf8");
    const define = (name: string) => {
      const [, shift] = new RegExp(`#define ${name} \\(1u << (\\d+)\\)`).exec(header) as RegExpExecArray;
      return 2 ** Number(shift);
    };
    expect(define("CSV_DEFAULT_MAX_LINE_BYTES")).toBe(DEFAULT_MAX_LINE_BYTES);
    expect(define("CSV_MAX_LINE_BYTES_LIMIT")).toBe(MAX_LINE_BYTES_LIMIT);
  });

  it("/dev/zero as events: refused at the limit, as phasor run refuses it, not read until memory runs out", () => {
    const c = runCHost(host, ["--model", model, "--events", "/dev/zero"]);
    expect(c.signal, "killed at the deadline").toBeNull();
    expect(c.stderr).toBe(`phasor_host: /dev/zero:1: the line is longer than ${DEFAULT_MAX_LINE_BYTES} bytes (the limit; --max-line-bytes raises it)\n`);
    expect(c.status).toBe(2);
  });

  it("a module, model or readout that is a FIFO, /dev/zero, a directory or larger than its kind: refused unread, exit 2", () => {
    const fifo = join(dir, "pipe.plsm");
    spawnSync("mkfifo", [fifo]);
    const huge = join(dir, "huge.plsm");
    writeFileSync(huge, "");
    truncateSync(huge, 2 ** 31 + 1);
    const readout = join(dir, "huge.readout");
    writeFileSync(readout, "");
    truncateSync(readout, 122881);
    const whole = (what: string) => `not a regular file: ${what} is read whole, and a pipe or a device may never end\n`;
    const cases: [string[], string][] = [
      [["--model", fifo], `phasor_host: ${fifo}: cannot read the model file: it is a FIFO (named pipe), ${whole("the model file")}`],
      [["--model", "/dev/zero"], `phasor_host: /dev/zero: cannot read the model file: it is a character device, ${whole("the model file")}`],
      [["--model", dir], `phasor_host: ${dir}: cannot read the model file: it is a directory\n`],
      [["--model", huge], `phasor_host: ${huge}: cannot read the model file: it holds ${2 ** 31 + 1} bytes, over the bound of ${2 ** 31} (the largest .plsm image a wasm engine holds)\n`],
      [["--model", model, "--module", fifo], `phasor_host: ${fifo}: cannot read the module: it is a FIFO (named pipe), ${whole("the module")}`],
      [["--model", model, "--readout-in", "/dev/zero"], `phasor_host: /dev/zero: cannot read the readout file: it is a character device, ${whole("the readout file")}`],
      [["--model", model, "--readout-in", readout], `phasor_host: ${readout}: cannot read the readout file: it holds 122881 bytes, over the bound of 122880 (the module's arena, which a readout is saved from)\n`],
    ];
    for (const [args, message] of cases) {
      const c = runCHost(host, [...args, "--events", "-"]);
      expect(c.signal, `${args.join(" ")}: killed at the deadline`).toBeNull();
      expect(c.stderr, args.join(" ")).toBe(message);
      expect(c.status, args.join(" ")).toBe(2);
    }
  });

  it("NDJSON, which it does not read, with a message that says it reads CSV", () => {
    const { c } = runOn('{"t":0,"x":[1,2]}\n');
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/events\.csv:1: not a CSV header: the C host reads CSV events/);
  });

  it("a model that does not fit the arena: the bytes it needs and the bytes there are, exit 2", async () => {
    const big = join(dir, "big.plsm");
    const bigImage = smallModel(6, [110, 8]);
    writeFileSync(big, bigImage);
    const c = runCHost(host, ["--model", big, "--events", "-"], "t,x0,x1\n");
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/^phasor_host: .*big\.plsm: the model needs (\d+) bytes of arena \(the image is (\d+) of them\) and the module's arena holds 122880\n$/);
    const [, needed, image] = /needs (\d+) bytes of arena \(the image is (\d+)/.exec(c.stderr) as RegExpExecArray;
    expect(Number(image)).toBe(bigImage.length);
    const mcu = await mcuInstance();
    expect(mcuLoad(mcu, bigImage)).toBe(MCU_TOO_BIG);
    expect(Number(needed)).toBe(mcu.arenaNeeded());
  });

  it("a model of the weight width the module does not run: which width it has and the build that runs it, exit 2", () => {
    const file = join(dir, "int8.plsm");
    writeFileSync(file, quantize(randomModel(new Rng(4), { inputSize: 2, hidden: [6], peephole: true, rOn: 0.5, outputs: 2, mode: "last" }), calibrationStreams(4, 2), "m", "int8").bytes);
    const c = runCHost(host, ["--module", MCU_FILE, "--model", file, "--events", "-"]);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/int8\.plsm: init rejected the image: .*its gate weights are int8, which build\/phasor-mcu-int8\.wasm runs/);
    // refused before any event is read (no stdin to write to a process that has gone)
    const learn = runCHost(host, ["--model", file, "--events", "-", "--learn", "0.5"]);
    expect(learn.status).toBe(2);
    expect(learn.stderr).toMatch(/int8\.plsm: its gate weights are int8, and the learning build \(build\/phasor-mcu-learn\.wasm\) runs int16 weights only/);
  });

  it("a damaged, truncated, float or non-.plsm model, each with its reason, exit 2", () => {
    const image = smallModel(5);
    const damaged = Uint8Array.from(image);
    damaged[200] ^= 0xff;
    const float = encodePlsm(randomModel(new Rng(1), { inputSize: 2, hidden: [4], peephole: false, rOn: 0.5, outputs: 1, mode: "every" }));
    const cases: [Uint8Array, RegExp][] = [
      [damaged, /init rejected the image: not a fixed-point \.plsm, corrupted, out of range, or of the other weight width \(its gate weights are int16, which build\/phasor-mcu\.wasm runs/],
      [image.subarray(0, 300), /its header says \d+ bytes but it has 300: truncated or damaged/],
      [float, /a \.plsm of kind 2; the MCU build runs fixed-point models/],
      [new TextEncoder().encode('{"format":"phasor-model"}'), /not a \.plsm model: it does not start with the PLSM magic/],
    ];
    for (const [bytes, message] of cases) {
      const file = join(dir, "case.plsm");
      writeFileSync(file, bytes);
      const c = runCHost(host, ["--model", file, "--events", "-"], "t,x0,x1\n1,0,0\n");
      expect(c.status, String(message)).toBe(2);
      expect(c.stderr).toMatch(message);
      expect(c.stdout.length).toBe(0);
    }
  });

  it("a module that is not the MCU build: what it imports or lacks, exit 2", () => {
    const cases: [string, RegExp][] = [
      ["build/phasor-wasi-scalar.wasm", /it imports \d+ things \(the first: wasi_snapshot_preview1\.\w+\), the MCU build .* imports nothing/],
      ["build/phasor-scalar.wasm", /its export "push" is not a function \(d\) -> \(i\)/],
      ["README.md", /README\.md: not a wasm module this engine can load/],
      ["build/no-such.wasm", /build\/no-such\.wasm: cannot read the module: No such file or directory/],
    ];
    for (const [module, message] of cases) {
      const c = runCHost(host, ["--module", module, "--model", model, "--events", "-"]);
      expect(c.status, module).toBe(2);
      expect(c.stderr).toMatch(message);
    }
  });

  it("a trap in the module: which export trapped and the engine's message, exit 1", () => {
    const wat = join(dir, "traps.wat");
    const wasm = join(dir, "traps.wasm");
    // the MCU build's exports, with an init that traps
    writeFileSync(
      wat,
      `(module (memory (export "memory") 2 2)
        (func (export "modelBuffer") (result i32) i32.const 1024)
        (func (export "arenaBytes") (result i32) i32.const 65536)
        (func (export "arenaUsed") (result i32) i32.const 0)
        (func (export "arenaNeeded") (result i32) i32.const 0)
        (func (export "init") (param i32) (result i32) unreachable)
        (func (export "inputBuffer") (result i32) i32.const 2048)
        (func (export "push") (param f64) (result i32) i32.const 0)
        (func (export "output") (result i32) i32.const 4096)
        (func (export "reset")))`,
    );
    const assembled = spawnSync("wat2wasm", [wat, "-o", wasm], { encoding: "utf8" });
    expect(assembled.status, assembled.stderr).toBe(0);
    const c = runCHost(host, ["--module", wasm, "--model", model, "--events", "-"]);
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(/^phasor_host: .*small\.plsm: the module trapped in init: .*unreachable/s);
  });

  it("a learning step or cap outside the module's ranges: refused before any event runs, exit 2, as the WASI command refuses it", () => {
    // before: the host ran the events, printed their outputs and, at the first label, blamed that line of the
    // events with the module's generic refusal; with no labels it ran to the end and exited 0
    const labelled = "t,x0,x1,label\n1,0.5,0.25,1\n2,0.5,0.25,0\n";
    const unlabelled = "t,x0,x1\n1,0.5,0.25\n2,0.5,0.25\n";
    const cases: [string[], RegExp][] = [
      ...["-1", "0", "1e-30", "2000", "nan", "inf"].map((eta): [string[], RegExp] => [["--learn", eta], /^phasor_host: --learn \(the step eta\) must be a number in \[2\^-24, 1024\]/]),
      ...["0", "2", "nan", "-0.5"].map((c): [string[], RegExp] => [["--learn", "0.5", "--learn-c", c], /^phasor_host: --learn-c \(the cap's c\) must be a number in \[2\^-16, 1\]/]),
    ];
    // the default module of --learn: the learning build
    const learning = (events: string, args: string[]) => {
      const file = join(dir, "learning.csv");
      writeFileSync(file, events);
      return runCHost(host, ["--model", model, "--events", file, ...args]);
    };
    for (const events of [labelled, unlabelled]) {
      for (const [args, message] of cases) {
        const c = learning(events, args);
        expect(c.status, args.join(" ")).toBe(2);
        expect(c.stderr, args.join(" ")).toMatch(message);
        expect(c.stderr, args.join(" ")).toContain(`(got "${args.at(-1)}")`);
        expect(c.stdout.length, `${args.join(" ")}: no output before the refusal`).toBe(0);
      }
    }
    // the ends of the ranges are steps the module takes
    for (const args of [["--learn", "1024", "--learn-c", "1"], ["--learn", String(2 ** -24), "--learn-c", String(2 ** -16)]]) {
      const c = learning(labelled, args);
      expect(c.status, `${args.join(" ")}: ${c.stderr}`).toBe(0);
    }
  });

  it("a readout it cannot write whole leaves --readout-out's file as it was, and says so, exit 1", () => {
    // a readout of 36 + 8 O + 4 O H = 4,356 bytes, more than the 4 KiB file-size limit below, which wasmtime's own
    // files (the memory image it instantiates from) stay within
    const wide = join(dir, "wide.plsm");
    const float = randomModel(new Rng(8), { inputSize: 2, hidden: [52], peephole: true, rOn: 0.3, outputs: 20, mode: "last", alpha: 0 });
    writeFileSync(wide, quantize(float, calibrationStreams(8, 2), "wide").bytes);
    const events = join(dir, "learning.csv");
    writeFileSync(events, "t,x0,x1,label\n1,0.5,0.25,1\n2,0.5,0.25,7\n");
    const saved = join(dir, "saved.readout");
    expect(runCHost(host, ["--model", wide, "--events", events, "--readout-out", saved]).status).toBe(0);
    const before = readFileSync(saved);
    expect(before.length).toBe(4356);
    // past the limit a write to a file fails (EFBIG), pipes are not limited; before, the host had emptied the file by
    // opening it for writing, and the write killed it half way (SIGXFSZ)
    const limited = spawnSync("bash", ["-c", 'ulimit -f 4; exec "$0" "$@"', host, "--model", wide, "--events", events, "--learn", "0.5", "--readout-out", saved]);
    expect(limited.signal).toBeNull();
    expect(limited.status).toBe(1);
    expect(limited.stderr.toString("utf8")).toMatch(/^phasor_host: .*saved\.readout: cannot write: File too large\n$/);
    expect(readFileSync(saved).equals(before), "the saved readout is untouched").toBe(true);
    expect(readdirSync(dir).filter((name) => name.startsWith("saved.readout")), "no partial file is left").toEqual(["saved.readout"]);
  });

  it("a run whose outputs could not be written writes no readout, and says so, exit 1", () => {
    // a run that fails leaves the readout as it was, so that running it again (--readout-in F --readout-out F) does
    // not learn from the same events twice; before, stdout's failure was found only after the readout was saved
    const events = labelledEvents();
    const saved = join(dir, "stdout.readout");
    expect(runCHost(host, ["--model", model, "--events", events, "--learn", "0.5", "--readout-out", saved]).status).toBe(0);
    const before = readFileSync(saved);
    const full = openSync("/dev/full", "w");
    try {
      const args = ["--model", model, "--events", events, "--learn", "0.5", "--readout-in", saved, "--readout-out", saved];
      const run = spawnSync(host, args, { stdio: ["ignore", full, "pipe"], encoding: "utf8" });
      expect(run.stderr).toBe("phasor_host: cannot write to stdout: No space left on device (the readout is not written)\n");
      expect(run.status).toBe(1);
    } finally {
      closeSync(full);
    }
    expect(readFileSync(saved).equals(before), "the saved readout is untouched").toBe(true);
  });

  it("--readout-out replaces only a regular file, and never a file of the user's beside it, exit 2 before any event", () => {
    const events = labelledEvents();
    // a pipe stands for every file that is not a regular one (a device: as root, renaming over /dev/null replaced it)
    const fifo = join(dir, "readout.fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const piped = runCHost(host, ["--model", model, "--events", events, "--learn", "0.5", "--readout-out", fifo]);
    expect(piped.status).toBe(2);
    expect(piped.stderr).toMatch(/^phasor_host: .*readout\.fifo: cannot write the readout there: not a regular file\n$/);
    expect(piped.stdout.length, "refused before any event runs").toBe(0);
    expect(statSync(fifo).isFIFO(), "the pipe is still a pipe").toBe(true);
    const folder = runCHost(host, ["--model", model, "--events", events, "--learn", "0.5", "--readout-out", dir]);
    expect(folder.status).toBe(2);
    expect(folder.stderr).toMatch(/cannot write the readout there: it is a directory\n$/);
    // the partial file has a name of its own: a user's file named like the old fixed one is neither emptied nor moved
    const saved = join(dir, "kept.readout");
    writeFileSync(`${saved}.partial`, "the user's own file");
    expect(runCHost(host, ["--model", model, "--events", events, "--learn", "0.5", "--readout-out", saved]).status).toBe(0);
    expect(readFileSync(`${saved}.partial`, "utf8")).toBe("the user's own file");
    expect(readFileSync(saved).subarray(0, 4).toString("latin1")).toBe("PLRO");
    expect(readdirSync(dir).filter((name) => name.includes("kept.readout")).sort()).toEqual(["kept.readout", "kept.readout.partial"]);
  });

  it("bad arguments: which flag and the usage, exit 2", () => {
    expect(runCHost(host, ["--model", model]).stderr).toMatch(/missing --events/);
    expect(runCHost(host, ["--events", "-"]).stderr).toMatch(/missing --model/);
    const unknown = runCHost(host, ["--model", model, "--events", "-", "--emit", "last"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown flag --emit\nusage: phasor_host/);
    expect(runCHost(host, ["--model", model, "--model", model, "--events", "-"]).stderr).toMatch(/--model is given twice/);
    expect(runCHost(host, ["--help"]).status).toBe(0);
  });
});
