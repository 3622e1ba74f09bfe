/**
 * The demo's pictures. Four strips share one time axis, display time in ms with "now" at the right edge: the
 * incoming events, the time gate of every unit (a raster that scrolls, one column per pixel of time), the
 * prediction and the axis. A fifth picture has one column per event: the units that event updated.
 */
import type { GateView } from "./gates.js";
import { SLOT_MS, WINDOW_MS, type PlayedEvent, type Player } from "./player.js";

const INK = "#1d2430";
const MUTED = "#667085";
const GRID = "#e3e6eb";
const OPEN = "#1d4ed8";
const UPDATED = "#f97316";
const TARGET_BAND = "#e7f6ec";
const OTHER_BAND = "#f4f5f7";

/** The visible stretch of display time: it ends at nowMs, at the right edge of a strip widthPx wide. */
export interface View {
  nowMs: number;
  pxPerMs: number;
  widthPx: number;
}

function xOf(view: View, ms: number): number {
  return view.widthPx - (view.nowMs - ms) * view.pxPerMs;
}

function firstVisibleMs(view: View): number {
  return view.nowMs - view.widthPx / view.pxPerMs;
}

/** Sizes a canvas's backing store to its CSS box times the device pixel ratio; the context draws in CSS pixels. */
export function fitCanvas(canvas: HTMLCanvasElement, widthPx: number, heightPx: number): CanvasRenderingContext2D {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(widthPx * ratio);
  canvas.height = Math.round(heightPx * ratio);
  // the width follows the layout: a resized window stretches the picture a little rather than breaking it
  canvas.style.width = "100%";
  canvas.style.height = `${heightPx}px`;
  const ctx = canvas.getContext("2d")!;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
}

function rgba(hex: string): [number, number, number, number] {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return [r, g, b, 255];
}

const UPDATED_RGBA = rgba(UPDATED);
const BOUNDARY_RGBA = rgba("#c8ccd4");

/** 256 colours for k in [0, 1]: the page's background at 0 (closed) to deep blue at 1 (fully open). */
function opennessColours(): Uint8ClampedArray {
  const from = rgba("#f1f4f9");
  const to = rgba(OPEN);
  const lut = new Uint8ClampedArray(256 * 4);
  for (let i = 0; i < 256; i++) {
    // a square root lifts the rising and falling edges of the window, which are short, into view
    const a = Math.sqrt(i / 255);
    for (let c = 0; c < 3; c++) lut[4 * i + c] = from[c] + (to[c] - from[c]) * a;
    lut[4 * i + 3] = 255;
  }
  return lut;
}

/**
 * Openness k of every unit over time: one row per unit (GateView's order), one column per pixel of display time,
 * new columns computed as time passes and the old ones scrolled left. Where an event falls, the units it
 * updated are painted orange; a grey column marks where one sequence ends and the next, on a reset stream, begins.
 */
export class GateRaster {
  private readonly ctx: CanvasRenderingContext2D;
  private readonly column: ImageData;
  private readonly k: Float64Array;
  private readonly lut = opennessColours();
  private readonly pending: PlayedEvent[] = [];
  /** display time of the rightmost column */
  private lastMs: number | null = null;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly gates: GateView,
    readonly rowPx: number,
    widthPx: number,
  ) {
    // one backing pixel per column and per row pixel: the raster is data, scaled up crisply by CSS
    canvas.width = widthPx;
    canvas.height = gates.rows.length * rowPx;
    canvas.style.width = "100%";
    canvas.style.height = `${canvas.height}px`;
    this.ctx = canvas.getContext("2d")!;
    this.ctx.fillStyle = "#fbfcfd";
    this.ctx.fillRect(0, 0, canvas.width, canvas.height);
    this.column = this.ctx.createImageData(1, canvas.height);
    this.k = new Float64Array(gates.rows.length);
  }

  addEvents(events: PlayedEvent[]): void {
    this.pending.push(...events);
  }

  advance(nowMs: number, pxPerMs: number): void {
    if (this.lastMs === null) this.lastMs = nowMs;
    const columns = Math.floor((nowMs - this.lastMs) * pxPerMs);
    if (columns <= 0) return;
    const { width, height } = this.canvas;
    const drawn = Math.min(columns, width);
    if (drawn < width) this.ctx.drawImage(this.canvas, drawn, 0, width - drawn, height, 0, 0, width - drawn, height);
    for (let i = 0; i < drawn; i++) {
      const toMs = this.lastMs + (columns - drawn + i + 1) / pxPerMs;
      this.drawColumn(width - drawn + i, toMs - 1 / pxPerMs, toMs);
    }
    this.lastMs += columns / pxPerMs;
  }

  private drawColumn(x: number, fromMs: number, toMs: number): void {
    const data = this.column.data;
    const slot = Math.floor(toMs / SLOT_MS);
    if (Math.floor(fromMs / SLOT_MS) !== slot) {
      for (let row = 0; row < this.k.length; row++) this.paintRow(data, row, BOUNDARY_RGBA, 0);
    } else {
      this.gates.openness(toMs - slot * SLOT_MS, this.k);
      this.k.forEach((k, row) => this.paintRow(data, row, this.lut, 4 * Math.round(k * 255)));
    }
    while (this.pending.length && this.pending[0].atMs <= toMs) {
      const event = this.pending.shift()!;
      if (event.atMs <= fromMs) continue; // scrolled past unseen (the tab was hidden)
      event.updated.forEach((updated, row) => {
        if (updated) this.paintRow(data, row, UPDATED_RGBA, 0);
      });
    }
    this.ctx.putImageData(this.column, x, 0);
  }

  private paintRow(data: Uint8ClampedArray, row: number, colours: ArrayLike<number>, at: number): void {
    for (let p = row * this.rowPx; p < (row + 1) * this.rowPx; p++) {
      for (let c = 0; c < 4; c++) data[4 * p + c] = colours[at + c];
    }
  }
}

/** The events as they arrive (dots on stems) over the sine each sequence samples, drawn faintly up to now. */
export function drawEvents(ctx: CanvasRenderingContext2D, view: View, player: Player, heightPx: number): void {
  const y = (value: number) => heightPx / 2 - value * (heightPx / 2 - 8);
  ctx.clearRect(0, 0, view.widthPx, heightPx);
  ctx.strokeStyle = GRID;
  ctx.lineWidth = 1;
  for (const level of [-1, 0, 1]) line(ctx, 0, y(level), view.widthPx, y(level));
  const from = firstVisibleMs(view);
  for (const sequence of player.sequences) {
    const { startMs, sample } = sequence;
    if (startMs + SLOT_MS < from || startMs > view.nowMs) continue;
    ctx.strokeStyle = GRID;
    line(ctx, xOf(view, startMs), 0, xOf(view, startMs), heightPx);
    ctx.fillStyle = MUTED;
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText(`#${sequence.n + 1}`, xOf(view, startMs) + 4, 12);
    if (sample.draws.kind !== "freq1") continue;
    const { period, offset, startMs: t0, durationMs } = sample.draws;
    ctx.strokeStyle = "#b8c2d3";
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    const end = Math.min(startMs + t0 + durationMs, view.nowMs);
    for (let ms = Math.max(startMs + t0, from); ms <= end; ms += 0.25) {
      const value = Math.sin((2 * Math.PI * (ms - startMs)) / period - offset);
      ctx.lineTo(xOf(view, ms), y(value));
    }
    ctx.stroke();
    ctx.setLineDash([]);
  }
  const last = player.history[player.history.length - 1];
  for (const event of visibleEvents(player, from)) {
    const x = xOf(view, event.atMs);
    ctx.strokeStyle = "#98a2b3";
    line(ctx, x, y(0), x, y(event.x));
    ctx.fillStyle = INK;
    ctx.beginPath();
    ctx.arc(x, y(event.x), event === last ? 4 : 2.5, 0, 2 * Math.PI);
    ctx.fill();
  }
}

/** P(target) after every event, as steps from the fresh stream's value; the band is the sequence's true class. */
export function drawPrediction(ctx: CanvasRenderingContext2D, view: View, player: Player, heightPx: number): void {
  const y = (p: number) => heightPx - 6 - p * (heightPx - 12);
  ctx.clearRect(0, 0, view.widthPx, heightPx);
  const from = firstVisibleMs(view);
  const events = visibleEvents(player, from - SLOT_MS);
  for (const sequence of player.sequences) {
    const { startMs } = sequence;
    if (startMs + SLOT_MS < from || startMs > view.nowMs) continue;
    const end = Math.min(startMs + SLOT_MS, view.nowMs);
    ctx.fillStyle = sequence.sample.label === 1 ? TARGET_BAND : OTHER_BAND;
    ctx.fillRect(xOf(view, startMs), 0, xOf(view, end) - xOf(view, startMs), heightPx);
    ctx.strokeStyle = OPEN;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let p = sequence.p0;
    ctx.moveTo(xOf(view, startMs), y(p));
    for (const event of events) {
      if (event.sequence !== sequence) continue;
      ctx.lineTo(xOf(view, event.atMs), y(p));
      p = event.p;
      ctx.lineTo(xOf(view, event.atMs), y(p));
    }
    ctx.lineTo(xOf(view, Math.min(startMs + WINDOW_MS, end)), y(p));
    ctx.stroke();
    if (sequence.verdict) {
      ctx.fillStyle = sequence.verdict.correct ? "#15803d" : "#b91c1c";
      ctx.font = "bold 13px system-ui, sans-serif";
      ctx.fillText(sequence.verdict.correct ? "✓" : "✗", xOf(view, startMs + WINDOW_MS) + 3, 16);
    }
  }
  ctx.strokeStyle = "#98a2b3";
  ctx.lineWidth = 1;
  ctx.setLineDash([4, 4]);
  line(ctx, 0, y(0.5), view.widthPx, y(0.5));
  ctx.setLineDash([]);
  ctx.fillStyle = MUTED;
  ctx.font = "10px system-ui, sans-serif";
  for (const p of [0, 0.5, 1]) ctx.fillText(`${p}`, 3, Math.min(heightPx - 2, Math.max(10, y(p) - 3)));
}

/** Ticks every 25 ms, labelled relative to now. */
export function drawAxis(ctx: CanvasRenderingContext2D, view: View, heightPx: number): void {
  ctx.clearRect(0, 0, view.widthPx, heightPx);
  ctx.strokeStyle = MUTED;
  ctx.fillStyle = MUTED;
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "center";
  for (let ago = 0; ago * view.pxPerMs <= view.widthPx; ago += 25) {
    const x = view.widthPx - ago * view.pxPerMs;
    line(ctx, x, 0, x, ago % 50 === 0 ? 6 : 3);
    if (ago % 50 === 0) ctx.fillText(ago === 0 ? "now" : `−${ago} ms`, Math.min(x, view.widthPx - 12), 18);
  }
  ctx.textAlign = "start";
}

/**
 * One column per event, newest on the right: the units (GateView's rows) that event updated, in orange. A grey
 * line separates the sequences.
 */
export function drawUpdates(ctx: CanvasRenderingContext2D, player: Player, rows: number, rowPx: number, widthPx: number): void {
  const columnPx = 4;
  const heightPx = rows * rowPx;
  ctx.fillStyle = "#fbfcfd";
  ctx.fillRect(0, 0, widthPx, heightPx);
  const count = Math.floor(widthPx / columnPx);
  const events = player.history.slice(-count);
  events.forEach((event, i) => {
    const x = widthPx - (events.length - i) * columnPx;
    if (i > 0 && events[i - 1].sequence !== event.sequence) {
      ctx.fillStyle = "#c8ccd4";
      ctx.fillRect(x - 1, 0, 1, heightPx);
    }
    ctx.fillStyle = UPDATED;
    event.updated.forEach((updated, row) => {
      if (updated) ctx.fillRect(x, row * rowPx, columnPx - 1, rowPx);
    });
  });
}

function visibleEvents(player: Player, fromMs: number): PlayedEvent[] {
  const history = player.history;
  let first = history.length;
  while (first > 0 && history[first - 1].atMs >= fromMs) first--;
  return history.slice(first);
}

function line(ctx: CanvasRenderingContext2D, x0: number, y0: number, x1: number, y1: number): void {
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
}
