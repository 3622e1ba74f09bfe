// The schedule of closed units (assembly/schedule.ts, fixed/step.ts nextOpening) may wake a unit early, which costs
// a visit, but never late: a unit whose gate opens at tick T is updated by an event at T. A late wake goes unseen
// in outputs on ordinary streams (events seldom fall within a few ticks of an opening, where k is near 0 anyway),
// so events here are placed at the ticks around each opening, and the units the engine updates at every event
// (its stats) are compared with the units open by the fixed engine's own phase arithmetic, recomputed in BigInt:
// phase_j(T) = seed_j + floor(T step_j / 2^32) mod 2^64 with step_j Q0.96 (docs/fixed-point.md), open while
// phase_j(T) / 2^32 < r_on_j in Q0.32. With every shift 0 and the first event at t = 0, every seed is 0.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { unitsWithPeriods } from "./support/phase-units.js";

// Periods from 2^-10 to 150 time units: with the shortest window (0.001 * 0.05) at least MIN_OPEN_TICKS ticks, the
// longest periods exceed 2^32 ticks, so both ways nextOpening computes a wake tick are taken.
const TAU = [0.001, 0.37, 1.0, 2.9, 37, 150];
const R_ON = [0.05, 0.2, 0.05, 0.5, 0.05, 0.05];
/** Openings of each unit around which events are placed. */
const OPENINGS = [1, 2, 3, 7, 50, 400];
/** Ticks from an opening at which events are placed. */
const OFFSETS = [-2, -1, 0, 1, 2, 3, 7];

describe("closed units are never woken late", () => {
  const units = unitsWithPeriods(77, TAU, R_ON, "wake-test");
  const { ticksLog2, periods, openAt, opening } = units;
  const ticks = [...new Set([0n, ...TAU.flatMap((_, j) => OPENINGS.flatMap((n) => OFFSETS.map((d) => opening(j, BigInt(n)) + BigInt(d))))])]
    .filter((T) => T >= 0n)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  it("the periods span both ways of computing a wake tick", () => {
    expect(ticksLog2).toBeGreaterThan(0);
    expect(periods.some((p) => p < 1n << 32n)).toBe(true);
    expect(periods.some((p) => p >= 1n << 32n)).toBe(true);
  });

  it.each([true, false])("at every tick around an opening, simd %s, the units updated are the units open", async (simd) => {
    const open = ticks.map(openAt);
    expect(await units.updatedAt(ticks, simd)).toEqual(open);
    // the comparison means something: units open and close across the events
    const opened = open.reduce((sum, n) => sum + n, 0);
    expect(opened).toBeGreaterThan(ticks.length);
    expect(opened).toBeLessThan(ticks.length * TAU.length);
  });
});
