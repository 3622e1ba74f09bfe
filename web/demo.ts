/**
 * The web demo (`npm run demo:web`): synthetic asynchronous sensor events (freq1-async, host/training/tasks.ts) stream
 * through the fixed-point engine, live, and the page shows the events, every unit's time gate, the units each
 * event updated and the prediction. It loads the library as plain ESM from dist/host/ and the wasm by fetch.
 *
 * The model: `?model=URL` (a JSON float model or a .plsm), else web/model.json when it exists, else the seeded,
 * untrained model that `phasor demo` runs. A float model is quantized here on freq1-async events, as
 * `phasor quantize` would. Other parameters: `?simd=auto|on|off`, `?speed=` (ms of events per second), `?seed=`; any
 * other, or a value outside these, is refused on the page (readParams).
 */
import {
  PhasorError,
  MAX_SEED,
  Rng,
  createEngine,
  defaultEngine,
  generate,
  loadModelBytes,
  quantize,
  randomModel,
  simdSupported,
  type Engine,
  type LoadedModel,
  type SimdChoice,
} from "../host/index.js";
import { GateView } from "./gates.js";
import { Player, SLOT_MS, WINDOW_MS, type PlayedEvent } from "./player.js";
import { GateRaster, drawAxis, drawEvents, drawPrediction, drawUpdates, fitCanvas, type View } from "./draw.js";

/**
 * The page's query, read once (main) and checked: a parameter the demo does not know (a misspelt `?modle=`), one
 * given twice, or a value it cannot take stops the page with an error that names it, rather than running something
 * the visitor did not ask for.
 */
let params: DemoParams;

interface DemoParams {
  model: string | null;
  simd: SimdChoice;
  /** ms of events played per second of wall time */
  speed: number;
  /** seed of the freq1-async sequences played (host/rng.ts) */
  seed: number;
}

const PARAMS = ["model", "simd", "speed", "seed"];
/** the fastest ?speed= the page plays: a frame advances by at most 100 ms of wall time (Demo.frame), 10 s of events at this speed */
const MAX_SPEED = 100_000;

function readParams(query: URLSearchParams): DemoParams {
  for (const name of new Set(query.keys())) {
    if (!PARAMS.includes(name)) throw new PhasorError("bad-args", `?${name}=: the demo has no such parameter (it takes ${PARAMS.join(", ")})`);
    if (query.getAll(name).length > 1) throw new PhasorError("bad-args", `?${name}= is given ${query.getAll(name).length} times; give it once`);
  }
  const simd = query.get("simd") ?? "auto";
  if (simd !== "auto" && simd !== "on" && simd !== "off") throw new PhasorError("bad-args", `?simd=${simd}: expected auto, on or off`);
  const number = (name: string, fallback: number, ok: (value: number) => boolean, expected: string): number => {
    const given = query.get(name);
    if (given === null) return fallback;
    const value = given.trim() === "" ? NaN : Number(given);
    if (!ok(value)) throw new PhasorError("bad-args", `?${name}=${given}: expected ${expected}`);
    return value;
  };
  return {
    model: query.get("model"),
    simd,
    speed: number("speed", 40, (v) => v > 0 && v <= MAX_SPEED, `a number of ms of events a second above 0 and at most ${MAX_SPEED}`),
    seed: number("seed", 7, (v) => Number.isInteger(v) && v >= 0 && v <= MAX_SEED, `an integer from 0 to ${MAX_SEED}`),
  };
}

const PX_PER_MS = 4;
const EVENTS_PX = 120;
const PREDICTION_PX = 90;
const AXIS_PX = 22;
/** what a page with no ?model= looks for, next to it */
const MODEL_BESIDE_PAGE = "model.json";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

interface DemoModel {
  /** a fixed-point .plsm, ready for the fixed engine */
  loaded: LoadedModel;
  /** where it came from, for the header */
  origin: string;
  trained: boolean;
}

/** freq1-async sequences as quantizer calibration (`phasor demo` uses the same: 50 sequences of seed 1) */
function calibration() {
  return generate("freq1-async", 50, 1).map((s) => ({ t: s.t, x: Float32Array.from(s.x) }));
}

/** The fixed-point form of a model: as given when it is a fixed .plsm, quantized here otherwise. */
function fixedPoint(loaded: LoadedModel): LoadedModel {
  if (loaded.format === "plsm" && defaultEngine(loaded) === "fixed") return loaded;
  const { file } = quantize(loaded.model, calibration(), loaded.source);
  return { format: "plsm", model: file.model, plsm: file, source: loaded.source };
}

async function loadDemoModel(): Promise<DemoModel> {
  const asked = params.model;
  const url = asked ?? MODEL_BESIDE_PAGE;
  const response = await fetch(url, { cache: "no-store" }).catch(() => null);
  if (response?.ok) {
    const loaded = loadModelBytes(new Uint8Array(await response.arrayBuffer()), url);
    const { inputSize, readout } = loaded.model;
    if (inputSize !== 1 || readout.outputSize !== 2) {
      throw new PhasorError("bad-model", `${url}: the demo streams freq1-async events, so it needs 1 input and 2 outputs (other, target); this model has ${inputSize} and ${readout.outputSize}`);
    }
    return { loaded: fixedPoint(loaded), origin: url, trained: true };
  }
  if (asked) throw new PhasorError("bad-args", `?model=${asked}: ${response ? `HTTP ${response.status}` : "could not be fetched"}`);
  const model = randomModel(new Rng(1), { inputSize: 1, hidden: [110], peephole: true, rOn: 0.05, outputs: 2, mode: "last" });
  return { loaded: fixedPoint({ format: "json", model, source: "seeded model" }), origin: "seeded", trained: false };
}

function describeModel(demo: DemoModel, engine: Engine): string {
  const layers = engine.model.layers;
  const units = layers.reduce((n, layer) => n + layer.hiddenSize, 0);
  const taus = layers.flatMap((layer) => Array.from(layer.tau));
  const rOns = new Set(layers.flatMap((layer) => Array.from(layer.rOn)));
  const what = demo.trained ? `model ${demo.origin}` : "seeded untrained model (put a trained one at web/model.json or pass ?model=URL)";
  // the fixed engine's model is the de-quantized one: r_on 0.05 reads back as 0.0499999998
  const rOn = rOns.size === 1 ? `r_on ${Number([...rOns][0].toPrecision(4))}` : "r_on per unit";
  return `${what} · ${layers.length} layer${layers.length > 1 ? "s" : ""}, ${units} units, ${rOn}, τ ${Math.min(...taus).toFixed(1)}–${Math.max(...taus).toFixed(1)} ms`;
}

/** Everything that lives as long as one engine: the player, the gate raster and the drawing state. */
interface Session {
  engine: Engine;
  gates: GateView;
  player: Player;
  raster: GateRaster;
  nowMs: number;
}

class Demo {
  private session: Session | null = null;
  private paused = false;
  private speed = params.speed;
  private lastFrame = 0;
  private widthPx = 0;
  private readonly eventsCtx: CanvasRenderingContext2D;
  private readonly predictionCtx: CanvasRenderingContext2D;
  private readonly axisCtx: CanvasRenderingContext2D;
  private updatesCtx: CanvasRenderingContext2D | null = null;

  constructor(private readonly model: DemoModel) {
    this.widthPx = element("plots").clientWidth;
    this.eventsCtx = fitCanvas(element("events"), this.widthPx, EVENTS_PX);
    this.predictionCtx = fitCanvas(element("prediction"), this.widthPx, PREDICTION_PX);
    this.axisCtx = fitCanvas(element("axis"), this.widthPx, AXIS_PX);
  }

  /** (Re)starts the stream on a new engine of the given build; the frame loop idles until it is ready. */
  async start(simd: SimdChoice): Promise<void> {
    const previous = this.session;
    this.session = null;
    previous?.player.dispose();
    previous?.engine.dispose();
    const engine = await createEngine(this.model.loaded, { engine: "fixed", simd });
    const gates = new GateView(engine.model);
    const rowPx = Math.max(1, Math.min(4, Math.floor(360 / gates.rows.length)));
    const raster = new GateRaster(element("gates"), gates, rowPx, this.widthPx);
    const player = new Player(engine, gates, params.seed);
    this.session = { engine, gates, player, raster, nowMs: 0 };
    const updates = element<HTMLCanvasElement>("updates");
    this.updatesCtx = fitCanvas(updates, element("updates-box").clientWidth, gates.rows.length * rowPx);
    element("model").textContent = describeModel(this.model, engine);
    element("build").textContent = `fixed-point engine, ${engine.simd ? "SIMD" : "scalar"} build` + ` (wasm SIMD ${simdSupported() ? "supported" : "not supported"} here)`;
    const slowest = gates.rows[gates.rows.length - 1].tauMs;
    element("gate-scale").textContent =
      gates.layerStarts.length > 1
        ? `${gates.rows.length} units, layer by layer, each from its shortest τ to its longest`
        : `${gates.rows.length} units, τ ${gates.rows[0].tauMs.toFixed(1)} ms (top) to ${slowest.toFixed(1)} ms (bottom)`;
    document.body.dataset.state = "running";
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
  }

  setSpeed(msPerSecond: number): void {
    this.speed = msPerSecond;
  }

  get speedMsPerSecond(): number {
    return this.speed;
  }

  frame(time: number): void {
    const elapsed = this.lastFrame ? Math.min(time - this.lastFrame, 100) : 0;
    this.lastFrame = time;
    const session = this.session;
    if (!session) return;
    if (!this.paused) session.nowMs += (elapsed / 1000) * this.speed;
    const pushed = session.player.advanceTo(session.nowMs);
    session.raster.addEvents(pushed);
    session.raster.advance(session.nowMs, PX_PER_MS);
    const view: View = { nowMs: session.nowMs, pxPerMs: PX_PER_MS, widthPx: this.widthPx };
    drawEvents(this.eventsCtx, view, session.player, EVENTS_PX);
    drawPrediction(this.predictionCtx, view, session.player, PREDICTION_PX);
    drawAxis(this.axisCtx, view, AXIS_PX);
    if (pushed.length && this.updatesCtx) {
      drawUpdates(this.updatesCtx, session.player, session.gates.rows.length, session.raster.rowPx, element("updates-box").clientWidth);
    }
    this.showNumbers(session, pushed[pushed.length - 1]);
  }

  private showNumbers(session: Session, latest: PlayedEvent | undefined): void {
    this.showStream(session);
    if (latest) this.showEvent(session.gates, latest);
    this.showPrediction(session.player);
  }

  private showStream({ player, gates, nowMs }: Session): void {
    const sequence = player.sequence;
    element("event-count").textContent = player.eventCount.toLocaleString("en-US");
    element("sequence-count").textContent = `#${sequence.n + 1}`;
    const share = (100 * player.unitUpdates) / (player.eventCount * gates.rows.length);
    element("update-share").textContent = player.eventCount ? `${share.toFixed(1)} %` : "–";
    const localMs = nowMs - sequence.startMs;
    element("sequence-time").textContent = localMs <= WINDOW_MS ? `t = ${localMs.toFixed(1)} ms` : "ended, next one soon";
    const draws = sequence.sample.draws;
    if (draws.kind === "freq1") {
      const truth = sequence.sample.label === 1 ? '<span class="target">target</span> (in 5–6 ms)' : '<span class="other">other</span>';
      element("truth").innerHTML = `period <b>${draws.period.toFixed(2)} ms</b> → ${truth}`;
    }
  }

  private showEvent(gates: GateView, event: PlayedEvent): void {
    element("last-event").textContent = `t = ${event.t.toFixed(3)} ms, x = ${event.x.toFixed(3)}`;
    element("last-updated").textContent = `${event.updatedCount} of ${gates.rows.length} units updated (the engine counted ${event.engineUpdates})`;
    const names = gates.rows.map((_, row) => row).filter((row) => event.updated[row]).map((row) => unitName(gates, row));
    element("last-units").textContent = names.length ? names.join(" ") : "none: every gate was closed";
  }

  private showPrediction(player: Player): void {
    const p = player.probability();
    element("p-target").textContent = p.toFixed(3);
    element("p-bar").style.width = `${(100 * p).toFixed(1)}%`;
    element("accuracy").textContent = player.judged ? `${player.correct} of ${player.judged} correct (${((100 * player.correct) / player.judged).toFixed(0)} %)` : "–";
    element("history").innerHTML = player.sequences
      .filter((s) => s.verdict)
      .slice(-6)
      .reverse()
      .map(({ n, sample, verdict }) => {
        const period = sample.draws.kind === "freq1" ? `${sample.draws.period.toFixed(2)} ms` : "";
        const className = (label: number) => (label === 1 ? "target" : "other");
        const mark = verdict!.correct ? '<td class="ok">✓</td>' : '<td class="wrong">✗</td>';
        return `<tr><td>#${n + 1}</td><td>${period}</td><td>${className(sample.label)}</td><td>${className(verdict!.predicted)}</td><td>${verdict!.p.toFixed(2)}</td>${mark}</tr>`;
      })
      .join("");
  }
}

function unitName(gates: GateView, row: number): string {
  const { layer, unit } = gates.rows[row];
  return gates.layerStarts.length > 1 ? `L${layer}.u${unit}` : `u${unit}`;
}

function showError(error: unknown): void {
  document.body.dataset.state = "error";
  element("model").textContent = "the demo could not start:";
  const box = element("error");
  box.hidden = false;
  box.textContent = error instanceof Error ? error.message : String(error);
  console.error(error);
}

async function main(): Promise<void> {
  params = readParams(new URLSearchParams(location.search));
  const simdSelect = element<HTMLSelectElement>("simd");
  const speedSelect = element<HTMLSelectElement>("speed");
  const pause = element<HTMLButtonElement>("pause");
  simdSelect.value = params.simd;
  const demo = new Demo(await loadDemoModel());
  if (!Array.from(speedSelect.options).some((o) => Number(o.value) === demo.speedMsPerSecond)) speedSelect.add(new Option(`${demo.speedMsPerSecond} ms/s`, `${demo.speedMsPerSecond}`));
  speedSelect.value = `${demo.speedMsPerSecond}`;
  await demo.start(simdSelect.value as SimdChoice);
  simdSelect.addEventListener("change", () => demo.start(simdSelect.value as SimdChoice).catch(showError));
  speedSelect.addEventListener("change", () => demo.setSpeed(Number(speedSelect.value)));
  pause.addEventListener("click", () => {
    const paused = pause.textContent === "Pause";
    demo.setPaused(paused);
    pause.textContent = paused ? "Resume" : "Pause";
  });
  // the seed is shown so that a page can be told from another that plays other sequences (`?seed=`)
  element("source").textContent = `freq1-async, seed ${params.seed}`;
  element("slot").textContent = `${WINDOW_MS} ms + ${SLOT_MS - WINDOW_MS} ms pause`;
  const loop = (time: number) => {
    try {
      demo.frame(time);
      requestAnimationFrame(loop);
    } catch (error) {
      showError(error);
    }
  };
  requestAnimationFrame(loop);
}

main().catch(showError);
