/**
 * Every file the CLI, the gateway and the node library read whole (model files, checkpoints, sensor declarations,
 * the MCU module of export-c, a gateway's snapshots and locks) is refused, naming the path and why, before a byte
 * is read when it is not a regular file (a FIFO, /dev/zero, a directory) or holds more than its kind can: never a
 * wait without end or a read until memory runs out. Each CLI run has a deadline, so a hang fails its test instead
 * of blocking the suite. Event files are streams, and a FIFO still is one.
 */
import "../host/node.js";
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { JSON_FILE_LIMIT, UnfitFileError, readWholeFile } from "../host/files.js";
import { MAX_IMAGE_BYTES } from "../host/model/plsm.js";
import { quantize } from "../host/model/quantize.js";
import { spawnPhasor } from "./support/cli.js";
import { calibrationStreams } from "./support/engines.js";
import { Rng, randomModel } from "./support/random.js";

const dir = mkdtempSync(join(tmpdir(), "phasor-whole-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Long enough for tsx to start on a loaded 2-core machine; a read that waits for a writer never ends. */
const HANG_MS = 60_000;
const MODEL = "examples/tiny-model.json";

/** A CLI run killed when it passes HANG_MS; `stdin` is ended at once, so that no run waits on it. */
async function phasorWithin(args: string[]): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const run = spawnPhasor(args);
  run.child.stdin?.end();
  const timer = setTimeout(() => run.child.kill("SIGKILL"), HANG_MS);
  const result = await run.done;
  clearTimeout(timer);
  return { status: result.status, signal: result.signal, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

function fifo(name: string): string {
  const path = join(dir, name);
  execFileSync("mkfifo", [path]);
  return path;
}

/** A file of `bytes` bytes that takes no room on disk (sparse). */
function sparse(name: string, bytes: number): string {
  const path = join(dir, name);
  writeFileSync(path, "");
  truncateSync(path, bytes);
  return path;
}

const PIPE = "it is a FIFO (named pipe), not a regular file";

describe("a model file that is not a regular file, or larger than any model, is refused unread", () => {
  it.each([
    ["a FIFO named .plsm", () => fifo("pipe.plsm"), `cannot read the model file: ${PIPE}: the model file is read whole, and a pipe or a device may never end`],
    ["a FIFO named .json", () => fifo("pipe.json"), `cannot read the model file: ${PIPE}: the model file is read whole, and a pipe or a device may never end`],
    [
      "/dev/zero, through a link named .plsm",
      () => {
        const link = join(dir, "zero.plsm");
        symlinkSync("/dev/zero", link);
        return link;
      },
      "cannot read the model file: it is a character device, not a regular file: the model file is read whole, and a pipe or a device may never end",
    ],
    [
      "a directory",
      () => {
        mkdirSync(join(dir, "models.plsm"));
        return join(dir, "models.plsm");
      },
      "cannot read the model file: it is a directory",
    ],
    [
      "a .plsm larger than a wasm engine holds",
      () => sparse("huge.plsm", MAX_IMAGE_BYTES + 1),
      `cannot read the model file: it holds ${MAX_IMAGE_BYTES + 1} bytes, over the bound of ${MAX_IMAGE_BYTES} (the largest .plsm image a wasm engine holds)`,
    ],
    [
      "a .json longer than a string can be",
      () => sparse("huge.json", JSON_FILE_LIMIT.maxBytes + 1),
      `cannot read the model file: it holds ${JSON_FILE_LIMIT.maxBytes + 1} bytes, over the bound of ${JSON_FILE_LIMIT.maxBytes} (the longest string V8 makes, which JSON.parse needs)`,
    ],
  ])("phasor run --model: %s", async (_, make, why) => {
    const model = make();
    const r = await phasorWithin(["run", "--model", model, "--events", "examples/events.ndjson"]);
    expect(r.signal, "killed at the deadline: the read waited").toBeNull();
    expect(r.stderr).toBe(`phasor run: ${model}: ${why}\n`);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
  });
});

describe("the other files read whole are refused the same way", () => {
  it("train --resume: a checkpoint that is a FIFO", async () => {
    const checkpoint = fifo("run.checkpoint.json");
    const tiny = ["--task", "freq1-async", "--hidden", "4", "--epochs", "1", "--per-epoch", "32", "--validation", "16", "--batch", "16"];
    const r = await phasorWithin(["train", ...tiny, "--out", join(dir, "resumed.json"), "--resume", checkpoint]);
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe(`phasor train: ${checkpoint}: cannot read the checkpoint: ${PIPE}: the checkpoint is read whole, and a pipe or a device may never end\n`);
    expect(r.status).toBe(2);
  });

  it("export-c --mcu: a module that is a FIFO", async () => {
    const rng = new Rng(3);
    const float = randomModel(rng, { inputSize: 2, hidden: [6], peephole: false, rOn: 0.3, outputs: 2, mode: "every" });
    const model = join(dir, "small.plsm");
    writeFileSync(model, quantize(float, calibrationStreams(3, 2), "small").bytes);
    const out = join(dir, "export");
    mkdirSync(out);
    const module = fifo("module.wasm");
    const r = await phasorWithin(["export-c", "--model", model, "--out", out, "--mcu", module]);
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe(`phasor export-c: --mcu ${module}: cannot read the module: ${PIPE}: the module is read whole, and a pipe or a device may never end\n`);
    expect(r.status).toBe(2);
  });

  it("gateway --sensors: a declaration that is a FIFO, before any broker is tried", async () => {
    const sensors = fifo("sensors.json");
    const r = await phasorWithin(["gateway", "--model", MODEL, "--state", join(dir, "state-sensors"), "--sensors", sensors, "--broker", "mqtt://127.0.0.1:1"]);
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe(`phasor gateway: ${sensors}: cannot read the sensor declaration: ${PIPE}: the sensor declaration is read whole, and a pipe or a device may never end\n`);
    expect(r.status).toBe(2);
  });

  it("gateway: a shard's snapshot that is a FIFO is corrupt state, and its lock a FIFO one line", async () => {
    const state = join(dir, "state-fifo");
    mkdirSync(join(state, "shard-0"), { recursive: true });
    const snapshot = fifo("state-fifo/shard-0/snapshot.bin");
    const gateway = ["gateway", "--model", MODEL, "--state", state, "--shards", "1", "--broker", "mqtt://127.0.0.1:1"];
    const r = await phasorWithin(gateway);
    expect(r.signal).toBeNull();
    expect(r.stderr).toContain(`shard 0: corrupt state: ${snapshot}: cannot read the snapshot: ${PIPE}`);
    expect(r.status).toBe(1);

    rmSync(join(state, "shard-0"), { recursive: true });
    const lock = fifo("state-fifo/shard-0.lock");
    const locked = await phasorWithin(gateway);
    expect(locked.signal).toBeNull();
    expect(locked.stderr).toBe(`phasor gateway: ${lock}: cannot read the shard's lock: ${PIPE}: the shard's lock is read whole, and a pipe or a device may never end\n`);
    expect(locked.status).toBe(1);
  });
});

describe("readWholeFile", () => {
  const kind = { what: "the test file", maxBytes: 100, why: "a test's bound", code: "bad-input" } as const;

  it("reads a file under /proc, which states 0 bytes, to its end", () => {
    const status = readWholeFile("/proc/self/status", { ...kind, maxBytes: 1 << 20 });
    expect(new TextDecoder().decode(status)).toMatch(/^Name:/);
  });

  it("refuses such a file once it passes the bound, without reading on", () => {
    expect(() => readWholeFile("/proc/self/status", kind)).toThrow(UnfitFileError);
    expect(() => readWholeFile("/proc/self/status", kind)).toThrow(/^\/proc\/self\/status: cannot read the test file: it holds \d+ or more bytes, over the bound of 100 \(a test's bound\)$/);
  });

  it("reads a file of exactly the bound, and refuses one byte more", () => {
    const file = join(dir, "hundred");
    writeFileSync(file, "x".repeat(100));
    expect(Buffer.from(readWholeFile(file, kind)).toString()).toBe("x".repeat(100));
    writeFileSync(file, "x".repeat(101));
    expect(() => readWholeFile(file, kind)).toThrow("it holds 101 bytes, over the bound of 100");
  });

  it("says why a file cannot be opened", () => {
    expect(() => readWholeFile(join(dir, "none"), kind)).toThrow(`${join(dir, "none")}: cannot read the test file: no such file`);
  });
});

describe("event files are streams: a FIFO still is one", () => {
  it("phasor run --events FIFO prints what it prints for the same events in a file", async () => {
    const events = fifo("events.ndjson");
    const run = spawnPhasor(["run", "--model", MODEL, "--events", events]);
    run.child.stdin?.end();
    const timer = setTimeout(() => run.child.kill("SIGKILL"), HANG_MS);
    const writer = createWriteStream(events);
    writer.end(readFileSync("examples/events.ndjson"));
    const piped = await run.done;
    clearTimeout(timer);
    const fromFile = await phasorWithin(["run", "--model", MODEL, "--events", "examples/events.ndjson"]);
    expect(piped.stderr.toString()).toBe("");
    expect(piped.status).toBe(0);
    expect(fromFile.status).toBe(0);
    expect(piped.stdout.toString()).toBe(fromFile.stdout);
    expect(piped.stdout.toString().split("\n").length).toBeGreaterThan(2);
  });
});
