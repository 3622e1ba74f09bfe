// The main job (`npm start`, issue 14 part 2) always ends with a trained model, on the threads it was given, and
// says plainly when the fixed-point model fell short of the 97 % goal. The epochs within a 1 s budget cannot reach
// it, which is what this run relies on.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { phasor } from "./support/cli.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "phasor-start-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("phasor start", () => {
  it("trains on the threads asked for, writes the model and its report, and says it fell short of 97 %", () => {
    const run = phasor(["start", "--seconds", "1", "--threads", "2", "--out", dir]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/on 2 threads, for at most 1 s/);
    // a 1 s budget stops after the epoch that passes it: one or a few epochs, never near 97 %
    expect(run.stdout).toMatch(/trained [1-9][0-9]* epochs in [0-9.]+ s on 2 threads/);
    const shortfall = /FELL SHORT of the 97 % goal: the fixed-point model scored ([0-9.]+) % on the fresh sequences/.exec(run.stdout);
    expect(shortfall).not.toBeNull();
    expect(Number(shortfall?.[1])).toBeLessThan(97);
    expect(run.stdout).not.toMatch(/reached the 97 % goal/);
    // and how far its fixed-point model is from the float64 reference, as `phasor quantize` measures it
    const agreement = /(within|BEYOND) plstm\.md section 3's tolerances: the fixed-point model against the float64 reference, maxAbsH ([0-9.]+e[-+][0-9]+), maxAbsY ([0-9.]+e[-+][0-9]+), argmax agreement [0-9.]+ % on the 200 calibration sequences/.exec(run.stdout);
    expect(agreement).not.toBeNull();
    const within = Number(agreement?.[2]) <= 4e-3 && Number(agreement?.[3]) <= 1e-2;
    expect(agreement?.[1]).toBe(within ? "within" : "BEYOND");
    const [folder] = readdirSync(dir);
    for (const file of ["model.json", "model.plsm", "model.svg", "report.html"]) expect(existsSync(join(dir, folder, file))).toBe(true);
    const report = readFileSync(join(dir, folder, "report.html"), "utf8");
    expect(report).toContain("FELL SHORT of the 97 % goal");
    expect(report).toContain(`${agreement?.[1]} plstm.md section 3's tolerances`);
  });

  it("refuses a thread count that is not a whole number from 1", () => {
    const run = phasor(["start", "--seconds", "1", "--threads", "0", "--out", dir]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--threads/);
  });
});
