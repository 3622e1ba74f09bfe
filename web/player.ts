/**
 * The demo's event stream: freq1-async sequences (host/training/tasks.ts) played one after the other through an engine,
 * on a display timeline where sequence n occupies [n * SLOT_MS, (n + 1) * SLOT_MS). Each sequence is fed in its
 * own time frame (the task's times, 0 to 125 ms) on a freshly reset stream, because the task classifies each
 * sequence alone; the class is read after its last event (readout "last").
 */
import { samples, type Engine, type Sample, type Stream } from "../host/index.js";
import type { GateView } from "./gates.js";

/** freq1's event times lie in [0, 125) ms (tasks.md) */
export const WINDOW_MS = 125;
/** a sequence's window plus a pause in which its verdict shows */
export const SLOT_MS = 140;
/** how many events the page keeps for drawing */
const HISTORY = 4000;

export interface PlayedEvent {
  /** the event's number since the page started */
  n: number;
  sequence: PlayedSequence;
  /** display time, ms */
  atMs: number;
  /** the event's time as the engine saw it (the sequence's own frame), ms */
  t: number;
  x: number;
  /** per display row of the GateView: 1 when the unit's gate was open, so the event updated it */
  updated: Uint8Array;
  updatedCount: number;
  /** the (unit, event) updates the engine itself counted for this event */
  engineUpdates: number;
  /** P(target) after the event */
  p: number;
}

export interface Verdict {
  predicted: number;
  p: number;
  correct: boolean;
}

export interface PlayedSequence {
  n: number;
  sample: Sample;
  /** display time of the sequence's t = 0 */
  startMs: number;
  /** P(target) of the fresh stream, before the first event */
  p0: number;
  verdict: Verdict | null;
}

export class Player {
  readonly history: PlayedEvent[] = [];
  readonly sequences: PlayedSequence[] = [];
  eventCount = 0;
  unitUpdates = 0;
  judged = 0;
  correct = 0;
  private readonly source: Generator<Sample, never, void>;
  private readonly stream: Stream;
  private current: PlayedSequence;
  /** index in the current sample of its next event */
  private next = 0;

  constructor(
    engine: Engine,
    private readonly gates: GateView,
    seed: number,
  ) {
    this.source = samples("freq1-async", seed);
    this.stream = engine.createStream();
    this.current = this.begin(0);
  }

  get sequence(): PlayedSequence {
    return this.current;
  }

  /** P(target) of the current state: the softmax of the two outputs, whose index is the label (tasks.ts) */
  probability(): number {
    const y = this.stream.output();
    return 1 / (1 + Math.exp(y[0] - y[1]));
  }

  private begin(n: number): PlayedSequence {
    this.stream.reset();
    this.next = 0;
    const sequence: PlayedSequence = { n, sample: this.source.next().value, startMs: n * SLOT_MS, p0: this.probability(), verdict: null };
    this.sequences.push(sequence);
    if (this.sequences.length > 64) this.sequences.shift();
    return sequence;
  }

  /** Plays every event up to display time `ms`; returns the events pushed. */
  advanceTo(ms: number): PlayedEvent[] {
    const pushed: PlayedEvent[] = [];
    for (;;) {
      const sequence = this.current;
      const { t } = sequence.sample;
      if (this.next < t.length) {
        if (sequence.startMs + t[this.next] > ms) break;
        pushed.push(this.push());
        continue;
      }
      if (!sequence.verdict && sequence.startMs + WINDOW_MS <= ms) this.judge(sequence);
      if (sequence.startMs + SLOT_MS > ms) break;
      this.current = this.begin(sequence.n + 1);
    }
    return pushed;
  }

  private push(): PlayedEvent {
    const sequence = this.current;
    const e = this.next++;
    const t = sequence.sample.t[e];
    const x = sequence.sample.x[e];
    const before = this.stream.stats().unitUpdates;
    this.stream.push(t, [x]);
    const engineUpdates = this.stream.stats().unitUpdates - before;
    const updated = new Uint8Array(this.gates.rows.length);
    const updatedCount = this.gates.open(t, updated);
    const event: PlayedEvent = { n: this.eventCount++, sequence, atMs: sequence.startMs + t, t, x, updated, updatedCount, engineUpdates, p: this.probability() };
    this.unitUpdates += engineUpdates;
    this.history.push(event);
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
    return event;
  }

  private judge(sequence: PlayedSequence): void {
    const p = this.probability();
    const predicted = p >= 0.5 ? 1 : 0;
    sequence.verdict = { predicted, p, correct: predicted === sequence.sample.label };
    this.judged++;
    if (sequence.verdict.correct) this.correct++;
  }

  dispose(): void {
    this.stream.dispose();
  }
}
