/**
 * A restored snapshot is checked before it replaces a stream's state (assembly/stream.ts restoreStream): damage
 * to any word of it is either refused or leaves a state the event path handles in bounded time. The damage runs
 * in a child process so that a hang fails this test by its timeout instead of blocking the suite.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("damaged snapshots", () => {
  it("are refused or harmless, word by word, in the fixed and the float engine", () => {
    const run = spawnSync(process.execPath, ["node_modules/tsx/dist/cli.mjs", "test/support/corrupt-snapshots.ts"], { encoding: "utf8", timeout: 90_000 });
    expect(run.signal, "the child process hung or was killed").toBeNull();
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const summary = JSON.parse(run.stdout.trim()) as Record<string, { words: number; accepted: number; rejected: number }>;
    for (const kind of ["fixed", "float"]) {
      // the header and the schedule are checked: some damage must be refused
      expect(summary[kind].rejected).toBeGreaterThan(0);
      expect(summary[kind].accepted + summary[kind].rejected).toBeGreaterThan(summary[kind].words);
    }
  });
});
