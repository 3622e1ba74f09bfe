/**
 * The command line under stress (issue 12, item 4): an event line of any length is refused at a documented cap
 * (--max-line-bytes) with file:line, in memory bounded by the cap; every I/O failure of every command is one
 * line on stderr and an exit status, never a stack (a reader of stdout going away is a quiet success, as for Unix
 * tools); and control characters from the input never reach the terminal: every message escapes them.
 */
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { phasor, spawnPhasor } from "./support/cli.js";

const MODEL = "examples/tiny-model.json";
const MiB = 1 << 20;

let dir: string;
let labelled: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "phasor-stress-"));
  labelled = join(dir, "labelled.ndjson");
  writeFileSync(labelled, ['{"t":0,"x":[0.5],"seq":"a","label":1}', '{"t":1,"x":[0.1],"seq":"a","label":1}', '{"t":0,"x":[0.3],"seq":"b","label":0}'].join("\n") + "\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An NDJSON event line of exactly `bytes` bytes (the pad field takes the rest). */
function lineOf(bytes: number, t: number): string {
  const head = `{"t":${t},"x":[0.25],"pad":"`;
  return head + "p".repeat(bytes - head.length - 2) + '"}';
}

/** Writes `total` bytes of one line's padding to the child's stdin in 1 MiB pieces, minding backpressure. */
async function streamPadding(stdin: NodeJS.WritableStream, total: number): Promise<void> {
  const piece = Buffer.alloc(MiB, "p");
  for (let sent = 0; sent < total; sent += MiB) {
    if (!stdin.write(piece)) await new Promise<void>((resolve) => stdin.once("drain", resolve));
  }
}

const LIMIT_REASON = "the line is longer than 1048576 bytes (the limit; --max-line-bytes raises it)";

/** One line, no byte a terminal acts on: no C0 control but the final newline, no DEL, no C1, no bidi control. */
function expectPrintable(stderr: Buffer | string): void {
  const text = typeof stderr === "string" ? stderr : stderr.toString("utf8");
  expect(text.endsWith("\n"), text).toBe(true);
  expect(text.slice(0, -1), text).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/);
}

describe("an over-long event line (issue 12, item 4)", () => {
  it("a 600 MB line is skipped with --skip-bad in memory bounded by the cap, and the events around it run", async () => {
    const run = spawnPhasor(["run", "--model", MODEL, "--events", "-", "--skip-bad"], { peakRss: true });
    const stdin = run.child.stdin as NodeJS.WritableStream;
    stdin.write('{"t":0,"x":[0.5]}\n{"t":1,"x":[0.5],"pad":"');
    await streamPadding(stdin, 600 * MiB);
    stdin.end('"}\n{"t":2,"x":[0.5]}\n');
    const result = await run.done;
    expect(result.stderr.toString()).toBe(`phasor run: skipped 1 bad line (first: stdin:2: ${LIMIT_REASON})\n`);
    expect(result.status).toBe(0);
    expect(result.stdout.toString().trimEnd().split("\n").map((line) => JSON.parse(line).t)).toEqual([0, 2]);
    // before the cap a 200 MB line took 480 MB and a 600 MB one failed; node and tsx alone take about 60 MB
    expect(result.peakRssKb).toBeLessThan(200 * 1024);
  });

  it("a line over the cap stops the run with file:line and the limit, after printing the events before it", async () => {
    const events = join(dir, "long.ndjson");
    writeFileSync(events, `{"t":0,"x":[0.5]}\n${lineOf(3 * MiB, 1)}\n{"t":2,"x":[0.5]}\n`);
    for (const command of [["run", "--events", events], ["eval", "--events", events], ["quantize", "--calib", events, "--out", join(dir, "q.plsm")]]) {
      const r = phasor([command[0], "--model", MODEL, ...command.slice(1)]);
      expect(r.stderr).toBe(`phasor ${command[0]}: ${events}:2: ${LIMIT_REASON}\n`);
      expect(r.status).toBe(2);
      if (command[0] === "run") expect(r.stdout.trimEnd().split("\n")).toHaveLength(1);
    }
  });

  it("--max-line-bytes sets the cap: a line of exactly N bytes is taken (LF or CRLF), one byte more is refused", () => {
    const n = 300;
    for (const end of ["\n", "\r\n"]) {
      const text = `${lineOf(n, 0)}${end}${lineOf(n + 1, 1)}${end}`;
      const ok = phasor(["run", "--model", MODEL, "--events", "-", "--max-line-bytes", String(n + 1)], text);
      expect(ok.status).toBe(0);
      expect(ok.stdout.trimEnd().split("\n")).toHaveLength(2);
      const cut = phasor(["run", "--model", MODEL, "--events", "-", "--max-line-bytes", String(n)], text);
      expect(cut.stderr).toBe(`phasor run: stdin:2: the line is longer than ${n} bytes (the limit; --max-line-bytes raises it)\n`);
      expect(cut.status).toBe(2);
    }
    // a line of multi-byte characters is counted in bytes, not characters
    const wide = `{"t":0,"x":[0.25],"pad":"${"\u00e9".repeat(100)}"}\n`;
    expect(phasor(["run", "--model", MODEL, "--events", "-", "--max-line-bytes", "150"], wide).status).toBe(2);
    expect(phasor(["run", "--model", MODEL, "--events", "-", "--max-line-bytes", String(Buffer.byteLength(wide) - 1)], wide).status).toBe(0);
  });

  it("refuses a --max-line-bytes that is not an integer in [1, 268435456]", () => {
    for (const value of ["0", "-5", "1.5", "268435457", "lots"]) {
      const r = phasor(["run", "--model", MODEL, "--events", "-", "--max-line-bytes", value], "");
      expect(r.stderr).toBe(`phasor run: --max-line-bytes must be an integer in [1, 268435456] (got "${value}")\n`);
      expect(r.status).toBe(2);
    }
  });
});

describe("I/O failures are one line and an exit status (issue 12, item 4)", () => {
  const tinyTrain = ["--task", "freq1-async", "--hidden", "4", "--epochs", "1", "--per-epoch", "32", "--validation", "16", "--batch", "16"];

  it.each([
    ["run", ["--model", MODEL, "--events", "examples/events.ndjson"]],
    ["eval", ["--model", MODEL, "--events", "LABELLED"]],
    ["gen", ["--task", "freq1-async", "--n", "3", "--seed", "1"]],
    ["quantize", ["--model", MODEL, "--calib", "examples/events.ndjson", "--out", "OUT/q.plsm"]],
    ["train", [...tinyTrain, "--out", "OUT/m.json"]],
    ["bench", ["--seconds", "0.05"]],
  ])("phasor %s > /dev/full: 'cannot write to stdout: no space left on the device', exit 1, no partial file", async (name, args) => {
    const out = mkdtempSync(join(dir, `${name}-`));
    const full = openSync("/dev/full", "w");
    try {
      const run = spawnPhasor([name, ...args.map((a) => a.replace("LABELLED", labelled).replace("OUT", out))], { stdout: full });
      const result = await run.done;
      // train's progress lines may come first; the failure is the last line, and no stack follows it
      expect(result.stderr.toString()).toMatch(new RegExp(`(^|\n)phasor ${name}: cannot write to stdout: no space left on the device\n$`));
      expect(result.stderr.toString()).not.toMatch(/^\s+at /m);
      expect(result.status).toBe(1);
      expect(readdirSync(out).filter((file) => file.includes(".partial"))).toEqual([]);
    } finally {
      closeSync(full);
    }
  });

  it.each([
    ["gen", ["--task", "freq1-async", "--n", "100000", "--seed", "1"]],
    ["run", ["--model", MODEL, "--events", "BIG"]],
  ])("phasor %s | head: ends quietly with status 0 when the reader goes away", async (name, args) => {
    const big = join(dir, "big.ndjson");
    if (!existsSync(big)) writeFileSync(big, Array.from({ length: 200000 }, (_, k) => `{"t":${k},"x":[0.5]}`).join("\n") + "\n");
    const run = spawnPhasor([name, ...args.map((a) => a.replace("BIG", big))]);
    run.child.stdout?.once("data", () => run.child.stdout?.destroy());
    const result = await run.done;
    expect(result.stderr.toString()).toBe("");
    expect(result.status).toBe(0);
  });

  it("phasor run | head still says what it skipped and saturated in the outputs it wrote, as phasor-wasi does", async () => {
    // before, the quiet stop came first: no word of a saturated input whose outputs the reader had been given
    const plsm = join(dir, "calibrated-small.plsm");
    const q = phasor(["quantize", "--model", MODEL, "--calib", "examples/events.ndjson", "--out", plsm]);
    expect(q.status, q.stderr).toBe(0);
    const events = join(dir, "saturating.ndjson");
    const lines = [`{"t":0,"x":[1000]}`, "not json", ...Array.from({ length: 200000 }, (_, k) => `{"t":${k + 1},"x":[0.5]}`)];
    writeFileSync(events, lines.join("\n") + "\n");
    const run = spawnPhasor(["run", "--model", plsm, "--events", events, "--skip-bad"]);
    run.child.stdout?.once("data", () => run.child.stdout?.destroy());
    const result = await run.done;
    expect(result.stderr.toString()).toMatch(
      new RegExp(`^phasor run: skipped 1 bad line \\(first: ${events}:2: .*\\)\nphasor run: warning: 1 input value was beyond .*${events}:1.*\n$`),
    );
    expect(result.status).toBe(0);
  });

  it("names a missing input file or a directory given as one, in one line with exit status 2", () => {
    const missing = join(dir, "none.ndjson");
    const cases: [string[], string][] = [
      [["run", "--model", MODEL, "--events", missing], `phasor run: ${missing}: cannot open: no such file\n`],
      [["run", "--model", MODEL, "--events", dir], `phasor run: ${dir}: cannot open: it is a directory\n`],
      [["eval", "--model", MODEL, "--events", dir], `phasor eval: ${dir}: cannot open: it is a directory\n`],
      [["quantize", "--model", MODEL, "--calib", dir, "--out", join(dir, "q.plsm")], `phasor quantize: ${dir}: cannot open: it is a directory\n`],
      [["run", "--model", join(dir, "folder.json"), "--events", "examples/events.ndjson"], `phasor run: ${join(dir, "folder.json")}: cannot read the model file: it is a directory\n`],
    ];
    mkdirSync(join(dir, "folder.json"), { recursive: true });
    for (const [args, message] of cases) {
      const r = phasor(args);
      expect(r.stderr, args.join(" ")).toBe(message);
      expect(r.status).toBe(2);
    }
  });

  it("refuses an output that is not a regular file (a pipe, a directory) and leaves it as it was", () => {
    const fifo = join(dir, "pipe.plsm");
    execFileSync("mkfifo", [fifo]);
    const q = phasor(["quantize", "--model", MODEL, "--calib", "examples/events.ndjson", "--out", fifo]);
    expect(q.stderr).toBe(`phasor quantize: ${fifo}: cannot write there: not a regular file\n`);
    expect(q.status).toBe(2);
    expect(statSync(fifo).isFIFO()).toBe(true);
    const trainFifo = join(dir, "pipe.json");
    execFileSync("mkfifo", [trainFifo]);
    const t = phasor(["train", ...tinyTrain, "--out", trainFifo]);
    expect(t.stderr).toBe(`phasor train: --out ${trainFifo}: cannot write there: not a regular file\n`);
    expect(t.status).toBe(2);
  });

  it("checks train --out before training: a missing folder or a directory fails at once", () => {
    const nowhere = join(dir, "no", "such", "m.json");
    const missing = phasor(["train", ...tinyTrain, "--out", nowhere]);
    expect(missing.stderr).toBe(`phasor train: --out ${nowhere}: its folder does not exist\n`);
    expect(missing.stdout).toBe(""); // not one epoch ran
    expect(missing.status).toBe(2);
    const folder = join(dir, "folder.json");
    mkdirSync(folder, { recursive: true });
    const directory = phasor(["train", ...tinyTrain, "--out", folder]);
    expect(directory.stderr).toBe(`phasor train: --out ${folder}: cannot write there: it is a directory\n`);
    expect(directory.status).toBe(2);
  });

  it("start --out that cannot be a folder fails at once in one line (under /proc node's mkdir never returned)", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    for (const [out, message] of [
      ["/proc/phasor-none", /^phasor start: --out \/proc\/phasor-none\/phasor-[0-9-]+: cannot create the folder \/proc\/phasor-none: no such file\n$/],
      [file, new RegExp(`^phasor start: --out ${file}/phasor-[0-9-]+: ${file} is not a folder\\n$`)],
    ] as const) {
      const run = spawnPhasor(["start", "--out", out, "--seconds", "1"]);
      const timer = setTimeout(() => run.child.kill("SIGKILL"), 30_000);
      const result = await run.done;
      clearTimeout(timer);
      expect(result.signal).toBeNull();
      expect(result.stderr.toString()).toMatch(message);
      expect(result.status).toBe(2);
    }
  });
});

describe("control characters from the input are escaped in every message (issue 12, item 4)", () => {
  const ESC = "\u001b";
  const BEL = "\u0007";

  it("in a bad NDJSON line, a CSV field, a seq and a file name", () => {
    const cases: [string[], string, RegExp][] = [
      [["run", "--model", MODEL, "--events", "-"], `${ESC}]0;pwned${BEL}${ESC}[2J{"t":1}\n`, /stdin:1: not JSON: .*\\u001b\]0;pwned\\u0007/],
      [["run", "--model", MODEL, "--events", "-"], `t,x0\n1,\u009b31m\u202e${BEL}\n`, /stdin:2: x0 is not a number: "\\u009b31m\\u202e\\u0007"/],
      [["run", "--model", MODEL, "--events", "-"], `{"t":0,"x":[0.5],"seq":"a\u2028b\u202ec\\u001b\\ud800"}\n{"t":0,"x":[0.5],"seq":"z"}\n{"t":1,"x":[0.5],"seq":"a\u2028b\u202ec\\u001b\\ud800"}\n`, /seq "a\\u2028b\\u202ec\\u001b\\ud800" appears again/],
      [["run", "--model", MODEL, "--events", `${dir}/${ESC}[31mred${BEL}.ndjson`], "", /red\\u0007\.ndjson: cannot open: no such file/],
      [["run", "--model", MODEL, "--events", "-", "--emit", `${ESC}[5m`], "", /--emit must be one of every, last \(got "\\u001b\[5m"\)/],
      [[`${ESC}c`], "", /^phasor: unknown command "\\u001bc"/],
    ];
    for (const [args, input, message] of cases) {
      const r = phasor(args, input);
      expect(r.stderr, JSON.stringify(args)).toMatch(message);
      expectPrintable(r.stderr);
      expect(r.status).toBe(2);
    }
  });

  it("invalid UTF-8, an encoded surrogate, ESC and a C1 control at the start of a line give a printable message", async () => {
    const run = spawnPhasor(["run", "--model", MODEL, "--events", "-"]);
    // JSON.parse's message quotes the start of such a line
    run.child.stdin?.end(Buffer.concat([Buffer.from('{"t":0,"x":[0.5]}\n'), Buffer.from([0xed, 0xa0, 0x80, 0xff, 0x1b, 0xc2, 0x9b]), Buffer.from('[31m{"t":1}\n')]));
    const result = await run.done;
    expect(result.stderr.toString()).toMatch(/^phasor run: stdin:2: not JSON: .*\\u001b\\u009b\[31m/);
    expectPrintable(result.stderr);
    expect(result.status).toBe(2);
  });

  it("with --skip-bad, in the note of skipped lines", () => {
    const r = phasor(["run", "--model", MODEL, "--events", "-", "--skip-bad"], `${ESC}[2J\n{"t":1,"x":[0.5]}\n`);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^phasor run: skipped 1 bad line \(first: stdin:1: not JSON: .*\\u001b\[2J/);
    expectPrintable(r.stderr);
  });
});
