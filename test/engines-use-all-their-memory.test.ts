// A wasm engine's memory grows to 4 GiB with its streams (a gateway keeps one per device). Every call refuses
// cleanly when it is full, and gives the same bits in the upper half as in the lower: before, a call that needed
// a larger I/O area than the engine had trapped with a bare RuntimeError ("unreachable"), and from 2 GiB up an
// address read negative in JS, so that every push of the engine threw a RangeError once its I/O area lay there
// and a snapshot of a stream there came from the wrong bytes. Each case runs in a child process
// (test/support/engine-memory-limits.ts): one with the engine's memory capped by a V8 flag, one that takes 2.2 GB.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

function runCase(name: string, nodeFlags: string[] = []): Record<string, any> {
  const run = spawnSync(process.execPath, [...nodeFlags, "--import", "tsx", "test/support/engine-memory-limits.ts", name], { encoding: "utf8", timeout: 120_000 });
  expect(run.signal, `${name}: the child process was killed`).toBeNull();
  expect(run.stderr, name).toBe("");
  expect(run.status, name).toBe(0);
  return JSON.parse(run.stdout.trim()) as Record<string, any>;
}

describe("a wasm engine's memory", () => {
  it("full: every call that needs more room is refused as not fitting, changes nothing, and works once streams are freed", () => {
    // 200 pages of 64 KiB: a few hundred streams of a 700-unit model fill it
    const result = runCase("full", ["--wasm-max-mem-pages=200"]);
    expect(result.streams).toBeGreaterThan(10);
    expect(result.refusal).toMatchObject({ error: "PhasorError", code: "runtime", message: expect.stringMatching(/^a stream of \d+ bytes does not fit in the engine's memory/) });
    for (const [call, what] of Object.entries(result.whenFull)) {
      expect(what, call).toMatchObject({ error: "PhasorError", code: "runtime", message: expect.stringMatching(/ does not fit in the engine's memory/) });
    }
    expect(result.untouched, "the refused calls left the stream as it was").toBe(true);
    for (const [call, what] of Object.entries(result.afterFreeing)) expect(what, call).toEqual({ ok: true });
  });

  it("beyond 2 GiB: a stream there runs, snapshots and restores the bits of one below", () => {
    const result = runCase("beyond 2 GiB");
    expect(result.memoryBytes).toBeGreaterThan(2 ** 31);
    expect(result.ran).toEqual({ low: { ok: true }, high: { ok: true } });
    expect(result.sameOutputs).toBe(true);
    expect(result.sameSnapshots).toBe(true);
    expect(result.restore).toEqual({ ok: true });
    expect(result.restoredSame).toBe(true);
  }, 150_000);
});
