/**
 * Pictures of a training run, as standalone SVG and one HTML page: the learning curve, and the units' time gates
 * (when each unit is open over a stretch of time). Strings only, browser-safe.
 */
import type { EpochRecord } from "./training.js";
import type { FloatModel } from "../model/model.js";
import { ExactPhase, timeGate } from "../engine/phase.js";

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);

function polyline(points: [number, number][], color: string, width = 2, dashes?: string): string {
  return `<polyline fill="none" stroke="${color}" stroke-width="${width}"${dashes ? ` stroke-dasharray="${dashes}"` : ""} points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ")}"/>`;
}

/** Training loss and validation accuracy (or MSE) per epoch; `reference` draws a dashed line at a paper's number. */
export function learningCurveSvg(history: EpochRecord[], options: { title?: string; reference?: { value: number; label: string } } = {}): string {
  const width = 720;
  const height = 320;
  const left = 60;
  const right = 60;
  const top = 36;
  const bottom = 44;
  const w = width - left - right;
  const h = height - top - bottom;
  const n = Math.max(1, history.length);
  const x = (epoch: number) => left + (n === 1 ? w / 2 : ((epoch - 1) / (n - 1)) * w);
  // an epoch whose every step the guard rolled back has no loss (NaN; null once read back from a checkpoint), and a
  // model that blew up may score NaN: such a point is left out of its line and of its axis, never drawn as NaN
  const measured = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v);
  const losses = history.filter((r) => measured(r.loss));
  const maxLoss = Math.max(1e-9, ...losses.map((r) => r.loss));
  const lossY = (v: number) => top + h - (v / maxLoss) * h;
  const accuracy = history.every((r) => r.valAccuracy !== undefined);
  const score = (r: EpochRecord) => (accuracy ? (r.valAccuracy as number) : (r.valMse as number));
  const scored = history.filter((r) => measured(score(r)));
  const maxScore = accuracy ? 1 : Math.max(1e-9, ...scored.map(score), ...history.map((r) => r.rawValMse).filter(measured));
  const scoreY = (v: number) => top + h - (v / maxScore) * h;
  // an averaged run (settings.average) also scored the last step's parameters: drawn fainter beside the average
  const raw = (r: EpochRecord) => (accuracy ? r.rawValAccuracy : r.rawValMse);
  const averaged = history.length > 0 && history.every((r) => raw(r) !== undefined);
  const rawScored = history.filter((r) => measured(raw(r)));
  const parts: string[] = [];
  parts.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="#fafbfc" stroke="#d0d7de"/>`);
  for (let k = 0; k <= 4; k++) {
    const yy = top + (k / 4) * h;
    parts.push(`<line x1="${left}" x2="${left + w}" y1="${yy}" y2="${yy}" stroke="#eaeef2"/>`);
    parts.push(`<text x="${left - 6}" y="${yy + 4}" text-anchor="end" font-size="11" fill="#b35900">${(maxLoss * (1 - k / 4)).toPrecision(2)}</text>`);
    const s = maxScore * (1 - k / 4);
    parts.push(`<text x="${left + w + 6}" y="${yy + 4}" font-size="11" fill="#0550ae">${accuracy ? `${(100 * s).toFixed(0)} %` : s.toPrecision(2)}</text>`);
  }
  if (options.reference) {
    const ry = scoreY(options.reference.value);
    parts.push(`<line x1="${left}" x2="${left + w}" y1="${ry}" y2="${ry}" stroke="#0550ae" stroke-dasharray="5 4"/>`);
    parts.push(`<text x="${left + 6}" y="${ry - 5}" font-size="11" fill="#0550ae">${escape(options.reference.label)}</text>`);
  }
  parts.push(polyline(losses.map((r) => [x(r.epoch), lossY(r.loss)]), "#b35900"));
  if (averaged) parts.push(polyline(rawScored.map((r) => [x(r.epoch), scoreY(raw(r) as number)]), "#8fb8e8", 1.5, "4 3"));
  parts.push(polyline(scored.map((r) => [x(r.epoch), scoreY(score(r))]), "#0550ae"));
  for (const r of scored) parts.push(`<circle cx="${x(r.epoch).toFixed(1)}" cy="${scoreY(score(r)).toFixed(1)}" r="2.5" fill="#0550ae"/>`);
  const ticks = Math.min(n, 10);
  for (let k = 0; k < ticks; k++) {
    const epoch = history[Math.round((k / Math.max(1, ticks - 1)) * (n - 1))]?.epoch ?? 1;
    parts.push(`<text x="${x(epoch)}" y="${top + h + 16}" text-anchor="middle" font-size="11" fill="#57606a">${epoch}</text>`);
  }
  parts.push(`<text x="${left + w / 2}" y="${height - 8}" text-anchor="middle" font-size="12" fill="#24292f">epoch</text>`);
  parts.push(`<text x="${left}" y="20" font-size="13" fill="#24292f">${escape(options.title ?? "learning curve")}: <tspan fill="#b35900">training loss</tspan>, <tspan fill="#0550ae">validation ${accuracy ? "accuracy" : "MSE"}${averaged ? " of the parameter average" : ""}</tspan>${averaged ? `, <tspan fill="#8fb8e8">of the last step's parameters</tspan>` : ""}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">${parts.join("")}</svg>`;
}

/**
 * The stability guard over training (host/training/guard.ts): per epoch the median and the largest batch sharpness
 * lambda_B, against the linear thresholds 2 / eta and 2 (1 + beta) / eta of the nominal rate, on a log scale.
 * Points above the threshold are batches the cap shortened the step for.
 */
export function guardSvg(history: EpochRecord[], options: { title?: string } = {}): string {
  const rows = history.filter((r) => r.guard && r.guard.lambdaMedian !== null && r.guard.lambdaMax !== null);
  const width = 720;
  const height = 320;
  const left = 70;
  const right = 150;
  const top = 36;
  const bottom = 44;
  const w = width - left - right;
  const h = height - top - bottom;
  const first = rows[0]?.epoch ?? 1;
  const last = rows.at(-1)?.epoch ?? 1;
  const x = (epoch: number) => left + (last === first ? w / 2 : ((epoch - first) / (last - first)) * w);
  const positive = (v: number) => Math.max(v, 1e-12);
  const values = rows.flatMap((r) => [r.guard!.lambdaMedian as number, r.guard!.lambdaMax as number, r.guard!.twoOverEta, r.guard!.threshold]).filter((v) => v > 0);
  const lo = Math.log10(Math.min(...values, 1)) - 0.1;
  const hi = Math.log10(Math.max(...values, 10)) + 0.1;
  // a median at or below zero (a Rayleigh quotient of a non-convex batch) sits on the bottom edge
  const y = (v: number) => top + h - Math.max(0, Math.min(1, (Math.log10(positive(v)) - lo) / (hi - lo))) * h;
  const parts: string[] = [`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="#fafbfc" stroke="#d0d7de"/>`];
  for (let p = Math.ceil(lo); p <= Math.floor(hi); p++) {
    parts.push(`<line x1="${left}" x2="${left + w}" y1="${y(10 ** p)}" y2="${y(10 ** p)}" stroke="#eaeef2"/>`);
    parts.push(`<text x="${left - 6}" y="${y(10 ** p) + 4}" text-anchor="end" font-size="11" fill="#57606a">1e${p}</text>`);
  }
  const series: [string, string, (r: EpochRecord) => number, string?][] = [
    ["2 (1 + beta) / eta", "#cf222e", (r) => r.guard!.threshold, "5 4"],
    ["2 / eta", "#8250df", (r) => r.guard!.twoOverEta, "2 3"],
    ["max lambda_B", "#b35900", (r) => r.guard!.lambdaMax as number],
    ["median lambda_B", "#0550ae", (r) => r.guard!.lambdaMedian as number],
  ];
  series.forEach(([label, color, value, dash], k) => {
    const points = rows.map((r) => `${x(r.epoch).toFixed(1)},${y(value(r)).toFixed(1)}`).join(" ");
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""} points="${points}"/>`);
    if (!dash) for (const r of rows) parts.push(`<circle cx="${x(r.epoch).toFixed(1)}" cy="${y(value(r)).toFixed(1)}" r="2.5" fill="${color}"/>`);
    parts.push(`<text x="${left + w + 10}" y="${top + 14 + 16 * k}" font-size="11" fill="${color}">${escape(label)}</text>`);
  });
  const ticks = Math.min(rows.length, 10);
  for (let k = 0; k < ticks; k++) {
    const epoch = rows[Math.round((k / Math.max(1, ticks - 1)) * (rows.length - 1))].epoch;
    parts.push(`<text x="${x(epoch)}" y="${top + h + 16}" text-anchor="middle" font-size="11" fill="#57606a">${epoch}</text>`);
  }
  parts.push(`<text x="${left + w / 2}" y="${height - 8}" text-anchor="middle" font-size="12" fill="#24292f">epoch</text>`);
  parts.push(`<text x="${left}" y="20" font-size="13" fill="#24292f">${escape(options.title ?? "stability guard")}: batch sharpness lambda_B against 2 / eta</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">${parts.join("")}</svg>`;
}

/** Every unit's openness k over [from, to] (alpha = 0), one row per unit sorted by period: the oscillations. */
export function timeGatesSvg(model: FloatModel, from = 0, to = 125, layer = 0): string {
  const L = model.layers[layer];
  const H = L.hiddenSize;
  const columns = 500;
  const rowHeight = Math.max(2, Math.min(8, Math.floor(440 / H)));
  const left = 70;
  const top = 28;
  const width = left + columns + 20;
  const height = top + H * rowHeight + 40;
  const order = Array.from({ length: H }, (_, j) => j).sort((a, b) => L.tau[a] - L.tau[b]);
  const phase = new ExactPhase(L.tau, L.shift);
  const parts: string[] = [`<rect x="${left}" y="${top}" width="${columns}" height="${H * rowHeight}" fill="#f6f8fa"/>`];
  order.forEach((j, row) => {
    for (let c = 0; c < columns; c++) {
      const t = from + ((c + 0.5) / columns) * (to - from);
      const k = timeGate(phase.phase(t, j), L.rOn[j], 0);
      if (k > 0) parts.push(`<rect x="${left + c}" y="${top + row * rowHeight}" width="1" height="${rowHeight}" fill="#0969da" fill-opacity="${Math.min(1, 0.25 + k).toFixed(2)}"/>`);
    }
  });
  const label = (row: number) => `<text x="${left - 6}" y="${top + row * rowHeight + rowHeight}" text-anchor="end" font-size="10" fill="#57606a">tau ${L.tau[order[row]].toFixed(1)}</text>`;
  parts.push(label(0), label(H - 1));
  for (let k = 0; k <= 5; k++) {
    const t = from + (k / 5) * (to - from);
    parts.push(`<text x="${left + (k / 5) * columns}" y="${top + H * rowHeight + 16}" text-anchor="middle" font-size="10" fill="#57606a">${t.toFixed(0)}</text>`);
  }
  parts.push(`<text x="${left + columns / 2}" y="${height - 6}" text-anchor="middle" font-size="11" fill="#24292f">time (${escape(model.timeUnit)})</text>`);
  parts.push(`<text x="${left}" y="18" font-size="13" fill="#24292f">time gates of layer ${layer}: each row a unit (sorted by period), blue where its gate is open</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">${parts.join("")}</svg>`;
}

/** One self-contained HTML page: a title, a table of facts, and the pictures. */
export function htmlReport(title: string, facts: [string, string][], pictures: string[]): string {
  const rows = facts.map(([k, v]) => `<tr><th>${escape(k)}</th><td>${escape(v)}</td></tr>`).join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:960px;color:#24292f}th{text-align:left;padding:2px 16px 2px 0;color:#57606a;font-weight:normal}td{font-variant-numeric:tabular-nums}figure{margin:1.5rem 0}</style>
</head><body><h1>${escape(title)}</h1><table>${rows}</table>${pictures.map((svg) => `<figure>${svg}</figure>`).join("")}</body></html>
`;
}
