// The library builds' time gate files a unit whose whole window opened and closed between two events under its next
// lap's wake key without computing its phase (assembly/fixed/step.ts, passedOver), from per-unit bounds and a count
// of laps passed over kept in the key's low bits. A key filed a tick too late would miss an event at the window's
// first tick; a window judged over a tick too soon would miss one at its last. So events are placed at both edges of
// windows reached after many laps passed over one by one (past the count's limit), after long gaps, at tick counts
// up to the clock's 2^62, and on a stream restored from a snapshot; at every event the units the engine updates
// (its stats) are compared with the units open by the fixed engine's phase arithmetic recomputed in BigInt:
// phase_j(T) = floor(T step_j / 2^32) mod 2^64 (step_j Q0.96; seeds are 0 with every shift 0 and the first event at
// t = 0), open while phase_j(T) < 2 halfOn_j 2^32.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { Rng } from "./support/random.js";
import { TWO_96, ceilDiv, unitsWithPeriods } from "./support/phase-units.js";

// The shortest window (0.001 * 0.05) sets the ticks per time unit; every period but the last is below 2^32 ticks,
// where windows are passed over without their phase.
const TAU = [0.001, 0.0173, 0.37, 1.0, 2.9, 37];
const R_ON = [0.05, 0.5, 0.05, 0.2, 0.05, 0.05];

describe("windows passed over between events are filed on time", () => {
  const units = unitsWithPeriods(91, TAU, R_ON, "passed-windows");
  const { steps, limits, periods, openAt, opening } = units;
  // the first tick of unit j's window n (the phase has wrapped n times, opening) and the first tick after it
  const closing = (j: number, n: bigint) => ceilDiv(n * TWO_96 + (limits[j] << 64n), steps[j]);
  const edges = (j: number, n: bigint) => [opening(j, n) - 1n, opening(j, n), closing(j, n) - 1n, closing(j, n)];
  // Ticks an f64 time holds exactly (every tick below 2^53, fewer above): an event is placed at the nearest.
  const exact = (T: bigint) => BigInt(Number(T));

  function ticks(): bigint[] {
    const rng = new Rng(5);
    const out: bigint[] = [0n];
    for (let j = 0; j < TAU.length - 1; j++) {
      // runs of events between unit j's windows, one a lap (the lap count in a key stops at 15), each followed by
      // one event at the last tick of the next window or at its first; then gaps of many laps, each followed by one
      // such event, and the edges of a window
      const closed = (n: bigint) => closing(j, n) + ((opening(j, n + 1n) - closing(j, n)) * BigInt(10 + rng.int(80))) / 100n;
      let n = BigInt(3 + 100 * j);
      for (const [laps, last] of [[40, true], [20, false], [5, true], [16, true], [1, false]] as const) {
        for (const end = n + BigInt(laps); n < end; n++) out.push(closed(n));
        out.push(last ? closing(j, n) - 1n : opening(j, n));
        n++;
      }
      for (const last of [true, false, true]) {
        n += BigInt(2 + rng.int(5000));
        out.push(last ? closing(j, n) - 1n : opening(j, n));
      }
      out.push(...edges(j, n + 1n));
    }
    // windows at 2^40 ticks, then up to the clock's end, every unit's edges around one lap there
    for (const at of [1n << 40n, 1n << 50n, 3n << 60n, (1n << 62n) - (1n << 40n)]) {
      for (let j = 0; j < TAU.length; j++) {
        const n = (at * steps[j]) / TWO_96;
        out.push(...edges(j, n).map(exact), ...edges(j, n + 1n).map(exact));
      }
    }
    return [...new Set(out.filter((T) => T >= 0n && T < 1n << 62n).map(exact))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
  const events = ticks();

  it("the stream passes over windows of units whose periods are below 2^32 ticks, and a longer one's", () => {
    expect(periods.filter((p) => p < 1n << 32n).length).toBe(TAU.length - 1);
    expect(periods[TAU.length - 1]).toBeGreaterThanOrEqual(1n << 32n);
    expect(events.length).toBeGreaterThan(400);
    expect(events[events.length - 1]).toBeGreaterThan(1n << 61n);
  });

  it.each([true, false])("at every event, simd %s, the units updated are the units open, before and after a restore", async (simd) => {
    const open = events.map(openAt);
    // the second half of the stream runs on a new stream restored from a snapshot of the first
    expect(await units.updatedAt(events, simd, events.length >> 1)).toEqual(open);
    // the comparison means something: units open and close across the events
    const opened = open.reduce((sum, n) => sum + n, 0);
    expect(opened).toBeGreaterThan(events.length);
    expect(opened).toBeLessThan(events.length * 3);
  });
});
