/* Stroke replay: a timeline under the pad steps through the recorded drawing stroke by stroke and
   point by point, asking as live drawing does (pad.js: throttled while moving, a full answer when
   the timeline is let go), and a chart of every class's probability against the ink drawn so far
   shows when the network "got it" and which stroke changed its mind. */

import * as api from "./api.js";
import { lineChart } from "./chart.js";
import { className } from "./datasets.js";
import { renderInk } from "./drawpad.js";
import { pct } from "./format.js";
import { state } from "./state.js";

const $ = (id) => document.getElementById(id);
const CHART_MOMENTS = 24; // evenly spaced points of the chart, besides every stroke's end
const PLAY_MS = 1500; // the whole drawing takes about this long per stroke when played
/** One colour per class (categorical, distinct on the dark page; repeated past ten). */
const CLASS_COLORS = ["#5ab4f0", "#f89c3a", "#5cd86c", "#d9485f", "#b58cf0",
  "#e8d25a", "#40c8c0", "#f08cc8", "#a0a8b8", "#ff7a3d"];

/** Ink length (pad pixels) of each point's segment, cumulative over the drawing. */
function inkAlong(strokes) {
  const along = [];
  let total = 0;
  for (const points of strokes) {
    points.forEach((p, i) => {
      if (i > 0) total += Math.hypot(p[0] - points[i - 1][0], p[1] - points[i - 1][1]);
      else total += 1; // a dot counts as a little ink
      along.push(total);
    });
  }
  return { along, total };
}

export class Replay {
  /** @param {{pad, prediction}} parts the pad (pad.js) and the prediction flow (predict.js) */
  constructor(parts) {
    Object.assign(this, parts);
    this.open = false;
    this.timer = 0;
    this.token = 0;
    this.moments = [];
    this.pad.listeners.push(() => this.padChanged());
    $("replay-open").addEventListener("click", () => (this.open ? this.close() : this.start()));
    $("replay-close").addEventListener("click", () => this.close());
    $("replay-play").addEventListener("click", () => this.play());
    const slider = $("replay-time");
    slider.addEventListener("input", () => this.seek(Number(slider.value), false));
    slider.addEventListener("change", () => this.seek(Number(slider.value), true));
    new ResizeObserver(() => this.paintChart()).observe($("replay-chart"));
    this.padChanged();
  }

  /** Position p (points shown, 0..total) → [whole strokes, points of the next]. */
  split(p) {
    let left = p;
    for (let s = 0; s < this.strokes.length; s++) {
      const n = this.strokes[s].length;
      if (left < n || (left === n && s === this.strokes.length - 1)) return left === n ? [s + 1, 0] : [s, left];
      left -= n;
    }
    return [this.strokes.length, 0];
  }

  padChanged() {
    if (this.open) this.close(false);
    $("replay-open").disabled = this.pad.strokes().length === 0;
  }

  start() {
    this.strokes = this.pad.strokes();
    if (!this.strokes.length) return;
    this.open = true;
    this.total = this.strokes.reduce((a, s) => a + s.length, 0);
    this.ink = inkAlong(this.strokes);
    const slider = $("replay-time");
    slider.max = String(this.total);
    slider.value = String(this.total);
    $("replay").hidden = false;
    $("replay-open").setAttribute("aria-expanded", "true");
    this.position = this.total;
    this.describe();
    this.measure();
  }

  /** Close the timeline; the pad shows the whole drawing again (and asks about it if it did not). */
  close(restore = true) {
    if (!this.open) return;
    this.open = false;
    this.token += 1;
    clearInterval(this.timer);
    this.timer = 0;
    $("replay").hidden = true;
    $("replay-open").setAttribute("aria-expanded", "false");
    if (restore && this.pad.pad.shown) {
      this.pad.pad.redraw();
      this.pad.strokeDone();
    }
  }

  /** Show the drawing up to position p; `settled` asks as at a stroke's end, else as while drawing. */
  seek(p, settled) {
    if (!this.open) return;
    this.position = Math.max(1, Math.min(this.total, p));
    $("replay-time").value = String(this.position);
    const [s, n] = this.split(this.position);
    if (this.position === this.total) this.pad.pad.redraw();
    else this.pad.pad.preview(s, n);
    if (settled) this.pad.strokeDone();
    else this.pad.drawing();
    this.describe();
    this.paintChart();
  }

  /** Play the drawing from its first point, stroke by stroke. */
  play() {
    if (!this.open) return;
    clearInterval(this.timer);
    const perPoint = Math.max(8, (PLAY_MS * this.strokes.length) / this.total);
    let p = 0;
    this.timer = setInterval(() => {
      p += 1;
      const [, n] = this.split(p);
      const end = n === 0 || p >= this.total;
      this.seek(p, end);
      if (p >= this.total) {
        clearInterval(this.timer);
        this.timer = 0;
      }
    }, perPoint);
  }

  describe() {
    const [s, n] = this.split(this.position);
    const strokeText = n === 0 ? `${s} of ${this.strokes.length} strokes` :
      `stroke ${s + 1} of ${this.strokes.length}, point ${n} of ${this.strokes[s].length}`;
    const share = this.ink.along[this.position - 1] / this.ink.total;
    const m = this.momentAt(this.position);
    const reads = m && m.answer ? ` · read as ${m.answer.label} (${pct(m.answer.probabilities[m.answer.label])})` : "";
    $("replay-text").textContent = `${strokeText} · ${Math.round(share * 100)}% of the ink${reads}`;
  }

  /** The chart's moment at or just before position p. */
  momentAt(p) {
    let best = null;
    for (const m of this.moments) if (m.p <= p && m.answer) best = m;
    return best;
  }

  /** Ask for the probabilities at each stroke's end and evenly along the drawing, in order. */
  async measure() {
    const token = ++this.token;
    const ends = new Set();
    let c = 0;
    for (const s of this.strokes) ends.add((c += s.length));
    const ps = new Set(ends);
    for (let k = 1; k <= CHART_MOMENTS; k++) ps.add(Math.max(1, Math.round((k * this.total) / CHART_MOMENTS)));
    this.moments = [...ps].sort((a, b) => a - b).map((p) => ({ p, end: ends.has(p), answer: null }));
    const canvas = document.createElement("canvas");
    canvas.width = this.pad.pad.canvas.width;
    canvas.height = this.pad.pad.canvas.height;
    const model = state.modelName;
    $("replay-note").textContent = "asking about each moment…";
    for (const m of this.moments) {
      const [s, n] = this.split(m.p);
      const list = this.strokes.slice(0, s);
      if (n > 0) list.push(this.strokes[s].slice(0, n));
      renderInk(canvas, this.pad.pad.base, list);
      try {
        m.answer = await api.predict(model, { image: canvas.toDataURL("image/png") });
      } catch {
        m.answer = null; // a moment with too little ink to read: left out of the chart
      }
      if (token !== this.token) return;
      this.paintChart();
    }
    this.describe();
    $("replay-note").textContent = this.settledText();
  }

  /** "It settled on 4 at 62% of the ink, during stroke 2." */
  settledText() {
    const done = this.moments.filter((m) => m.answer);
    if (!done.length) return "";
    const final = done[done.length - 1].answer.label;
    let from = done.length - 1;
    while (from > 0 && done[from - 1].answer.label === final) from -= 1;
    const m = done[from];
    const [s, n] = this.split(m.p);
    const stroke = n === 0 ? s : s + 1;
    const changes = done.reduce((k, x, i) => k + (i > 0 && x.answer.label !== done[i - 1].answer.label ? 1 : 0), 0);
    return `It settled on ${className(final)} at ${Math.round((this.ink.along[m.p - 1] / this.ink.total) * 100)}% ` +
      `of the ink (stroke ${stroke}); it changed its mind ${changes} time${changes === 1 ? "" : "s"}.`;
  }

  paintChart() {
    if (!this.open) return;
    const done = this.moments.filter((m) => m.answer);
    const canvas = $("replay-chart");
    const x = done.length ? done.map((m) => this.ink.along[m.p - 1] / this.ink.total) : [0, 1];
    const final = done.length ? done[done.length - 1].answer.label : -1;
    const series = done.length ? done[0].answer.probabilities.map((_, d) => ({
      values: done.map((m) => m.answer.probabilities[d]), color: CLASS_COLORS[d % CLASS_COLORS.length],
      width: d === final ? 2.5 : 1.2,
    })) : [];
    const markers = [{ x: this.ink.along[this.position - 1] / this.ink.total, label: "now", color: "#e8edf5" }];
    lineChart(canvas, {
      x, series, yMin: 0, yMax: 1, yTicks: [0, 0.5, 1], yFormat: (v) => `${Math.round(v * 100)}%`,
      xTicks: [0, 0.5, 1], xFormat: (v) => (v >= 1 ? "all ink" : `${Math.round(v * 100)}%`), markers,
    });
    canvas.dataset.moments = String(done.length);
  }
}
