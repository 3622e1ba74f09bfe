/**
 * `phasor gen` (formats.md, "Commands"): its output is an event file the project's own parser reads back, with exactly
 * the samples of host/training/tasks.ts at full precision; the same arguments give the same bytes; bad arguments exit 2
 * naming what is accepted.
 */
import { describe, expect, it } from "vitest";
import { phasor } from "./support/cli.js";
import { groupBySeq, parseEvents } from "../host/engine/events.js";
import { TASKS, generate, type TaskName } from "../host/training/tasks.js";




function gen(task: TaskName, n: number, seed: number): string {
  const r = phasor(["gen", "--task", task, "--n", String(n), "--seed", String(seed)]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

describe("phasor gen", () => {
  it.each(["freq1-async", "freq1-highres", "freq2", "adding"] as TaskName[])(
    "%s: prints the samples of host/training/tasks.ts, number for number, one NDJSON event per line",
    (task) => {
      const n = 12;
      const text = gen(task, n, 21);
      expect(text.endsWith("\n")).toBe(true);
      const first = JSON.parse(text.slice(0, text.indexOf("\n")));
      expect(Object.keys(first)).toEqual(["t", "x", "seq", "label"]);

      const parsed = parseEvents(text, { inputSize: TASKS[task].inputSize, file: "gen" });
      expect(parsed.skipped).toBe(0);
      const sequences = groupBySeq(parsed.events);
      const expected = generate(task, n, 21);
      expect(sequences.map((s) => s.seq)).toEqual(expected.map((_, k) => k));
      sequences.forEach((sequence, k) => {
        const sample = expected[k];
        expect(sequence.events.every((e) => e.label === sample.label)).toBe(true);
        expect(Float64Array.from(sequence.events, (e) => e.t)).toEqual(sample.t);
        const x = new Float64Array(sample.x.length);
        sequence.events.forEach((e, i) => x.set(e.x, i * e.x.length));
        expect(x).toEqual(sample.x);
      });
    },
  );

  it("gives the same bytes for the same seed, other bytes for another, and n samples are a prefix of more", () => {
    const a = gen("freq1-standard", 20, 4);
    expect(gen("freq1-standard", 20, 4)).toBe(a);
    expect(gen("freq1-standard", 20, 5)).not.toBe(a);
    const fewer = gen("freq1-standard", 7, 4);
    expect(a.startsWith(fewer)).toBe(true);
    expect(a.length).toBeGreaterThan(fewer.length);
  });

  it("streams 1,000 freq2 samples (about 550k events), one line for each of the generator's events", () => {
    const text = gen("freq2", 1000, 1);
    let lines = 0;
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lines++;
    expect(lines).toBe(generate("freq2", 1000, 1).reduce((sum, s) => sum + s.t.length, 0));
    expect(lines).toBeGreaterThan(500_000);
  });

  it("exits 2 naming the accepted values for a bad task, n or seed", () => {
    const cases: [string[], RegExp][] = [
      [["--task", "freq3", "--n", "5", "--seed", "1"], /--task must be one of freq1-standard, freq1-highres, freq1-async, freq2, adding \(got "freq3"\)/],
      [["--n", "5", "--seed", "1"], /missing --task T \(one of freq1-standard, .*adding\)/],
      [["--task", "adding", "--n", "0", "--seed", "1"], /--n must be an integer >= 1 \(got "0"\)/],
      [["--task", "adding", "--n", "2.5", "--seed", "1"], /--n must be an integer >= 1/],
      [["--task", "adding", "--n", "ten", "--seed", "1"], /--n must be an integer >= 1/],
      [["--task", "adding", "--seed", "1"], /missing --n N \(an integer >= 1\)/],
      [["--task", "adding", "--n", "5", "--seed", "-1"], /--seed must be an integer >= 0/],
      [["--task", "adding", "--n", "5", "--seed", "4294967296"], /--seed must be an integer in \[0, 4294967295\]/],
      [["--task", "adding", "--n", "5"], /missing --seed S \(an integer in \[0, 4294967295\]\)/],
    ];
    for (const [args, message] of cases) {
      const r = phasor(["gen", ...args]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^phasor gen: /);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe("");
    }
  });

  it("shows its flags with --help", () => {
    const r = phasor(["gen", "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: phasor gen --task T --n N --seed S/);
    expect(r.stdout).toMatch(/--task freq1-standard\|freq1-highres\|freq1-async\|freq2\|adding/);
  });
});
