/**
 * The time gates of every unit of a model, as the demo shows them: one display row per unit, the units of each
 * layer sorted by period so that the raster reads from fast oscillations (top) to slow ones (bottom).
 * Openness is plstm.md section 1's k with the exact phase of host/engine/phase.ts, and alpha = 0 as at inference.
 */
import { ExactPhase, timeGate, type FloatModel } from "../host/index.js";

export interface UnitRef {
  layer: number;
  unit: number;
  tauMs: number;
}

export class GateView {
  /** display row -> unit */
  readonly rows: UnitRef[];
  /** the first display row of every layer */
  readonly layerStarts: number[];
  private readonly phases: ExactPhase[];
  private readonly rOn: Float64Array[];
  /** per layer, scratch: the phase of every unit at the time asked */
  private readonly phi: Float64Array[];

  constructor(model: FloatModel) {
    this.rows = [];
    this.layerStarts = [];
    model.layers.forEach((layer, l) => {
      this.layerStarts.push(this.rows.length);
      const units = Array.from({ length: layer.hiddenSize }, (_, unit) => ({ layer: l, unit, tauMs: layer.tau[unit] }));
      this.rows.push(...units.sort((a, b) => a.tauMs - b.tauMs));
    });
    this.phases = model.layers.map((layer) => new ExactPhase(layer.tau, layer.shift));
    this.rOn = model.layers.map((layer) => layer.rOn);
    this.phi = model.layers.map((layer) => new Float64Array(layer.hiddenSize));
  }

  private phasesAt(t: number): void {
    this.phases.forEach((phase, l) => phase.phases(t, this.phi[l]));
  }

  /** k of every row at time t, into out (one number per row) */
  openness(t: number, out: Float64Array): void {
    this.phasesAt(t);
    this.rows.forEach(({ layer, unit }, row) => {
      out[row] = timeGate(this.phi[layer][unit], this.rOn[layer][unit], 0);
    });
  }

  /** 1 for the rows whose gate is open at t (phi < r_on, plstm.md section 1): the units an event at t updates */
  open(t: number, out: Uint8Array): number {
    this.phasesAt(t);
    let count = 0;
    this.rows.forEach(({ layer, unit }, row) => {
      out[row] = this.phi[layer][unit] < this.rOn[layer][unit] ? 1 : 0;
      count += out[row];
    });
    return count;
  }
}
