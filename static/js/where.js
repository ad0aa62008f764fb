/* Where the drawing stands (issue 17): the data map of the network's training images (their
   features' first two principal components, a canvas scatter coloured by class, drag to pan,
   wheel to zoom, hover shows the image), the drawing on it with lines to its nearest images,
   an honest verdict when it looks like nothing the network knows, and "make it a …" buttons
   showing the least change (any, or adding ink only) that makes the network read another class.
   Class names and nouns come from the dataset (datasets.js). */

import * as api from "./api.js";
import { decodeMap, decodeSample, decodeTree } from "./codec.js";
import { el } from "./dom.js";
import { aClass, className, classNames, classTag, noun, plural } from "./datasets.js";
import { pct } from "./format.js";
import { paintGray, paintSigned } from "./paint.js";

// Ten distinguishable class colours (Tableau 10), repeated past ten classes.
const COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
  "#ff9da7", "#9c755f", "#bab0ac"];
const K = 9;
const HOVER_PX = 6;

class WherePanel {
  /** @param {{map, tip, tipCanvas, tipText, verdict, neighbours, bars, buttons, flips}} dom */
  constructor(dom, handlers) {
    this.dom = dom;
    this.h = handlers;
    this.map = null; // {model, points, labels, indices, bounds}
    this.answer = null;
    this.view = { scale: 1, x: 0, y: 0 };
    this.digits = new Map(); // model:index → Float32Array, for the hover
    this.drag = null;
    const c = dom.map;
    c.addEventListener("wheel", (e) => this.zoom(e), { passive: false });
    c.addEventListener("pointerdown", (e) => { this.drag = { x: e.clientX, y: e.clientY }; c.setPointerCapture(e.pointerId); });
    c.addEventListener("pointerup", () => { this.drag = null; });
    c.addEventListener("pointermove", (e) => this.move(e));
    c.addEventListener("pointerleave", () => { dom.tip.hidden = true; });
    c.addEventListener("dblclick", () => { this.view = { scale: 1, x: 0, y: 0 }; this.paint(); });
    this.bars = [];
  }

  /** The probability bars and "make it a …" buttons for the shown network's classes. */
  setClasses() {
    const names = classNames();
    const bars = names.map((_, d) => {
      const fill = el("i", {});
      return { fill, bar: el("span", { className: "mini-bar", title: `p(${className(d)})` }, el("b", {}, fill), el("small", {}, classTag(d))) };
    });
    this.dom.bars.replaceChildren(...bars.map((b) => b.bar));
    this.bars = bars.map((b) => b.fill);
    this.dom.buttons.replaceChildren(el("span", { className: "muted small" }, "make it "),
      ...names.map((name, d) => el("button", {
        type: "button", className: "btn digit-btn", id: `make-${d}`, title: `the least change the network reads as ${aClass(d)}`,
        onclick: () => this.h.onTarget(d),
      }, name)));
  }

  placeholder(text) {
    this.answer = null;
    this.dom.verdict.textContent = text;
    this.dom.verdict.classList.remove("atypical");
    this.dom.neighbours.replaceChildren();
    this.dom.flips.replaceChildren();
    for (const b of this.bars) b.style.transform = "scaleY(0)";
    this.paint();
  }

  setMap(model, answer) {
    const m = decodeMap(answer);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < m.points.length; i += 2) {
      x0 = Math.min(x0, m.points[i]); x1 = Math.max(x1, m.points[i]);
      y0 = Math.min(y0, m.points[i + 1]); y1 = Math.max(y1, m.points[i + 1]);
    }
    this.map = { model, ...m, bounds: { x0, x1, y0, y1 } };
    this.view = { scale: 1, x: 0, y: 0 };
    this.paint();
  }

  /** Map coordinates → canvas pixels (y up), with the pan and zoom. */
  toScreen(px, py) {
    const c = this.dom.map, b = this.map.bounds, pad = 12;
    const s = Math.min((c.width - 2 * pad) / (b.x1 - b.x0), (c.height - 2 * pad) / (b.y1 - b.y0));
    const cx = (px - (b.x0 + b.x1) / 2) * s, cy = (py - (b.y0 + b.y1) / 2) * s;
    return [c.width / 2 + (cx * this.view.scale) + this.view.x, c.height / 2 - (cy * this.view.scale) + this.view.y];
  }

  paint() {
    const c = this.dom.map;
    const w = Math.max(200, Math.round(c.clientWidth * devicePixelRatio)) || 400;
    const h = Math.round(w * 0.75);
    if (c.width !== w) c.width = w;
    if (c.height !== h) c.height = h;
    const ctx = c.getContext("2d");
    ctx.fillStyle = "#0b0f17";
    ctx.fillRect(0, 0, w, h);
    if (!this.map) return;
    const m = this.map, r = Math.max(1, devicePixelRatio);
    for (let i = 0; i < m.labels.length; i++) {
      const [x, y] = this.toScreen(m.points[2 * i], m.points[2 * i + 1]);
      ctx.fillStyle = COLORS[m.labels[i] % COLORS.length];
      ctx.fillRect(x - r / 2, y - r / 2, r * 1.5, r * 1.5);
    }
    const a = this.answer;
    c.dataset.points = String(m.labels.length);
    if (!a || a.model !== m.model) return;
    const [qx, qy] = this.toScreen(a.position[0], a.position[1]);
    ctx.strokeStyle = "rgba(255,255,255,0.7)";
    ctx.lineWidth = r;
    for (const n of a.neighbors) {
      const [nx, ny] = this.toScreen(n.position[0], n.position[1]);
      ctx.beginPath(); ctx.moveTo(qx, qy); ctx.lineTo(nx, ny); ctx.stroke();
    }
    ctx.fillStyle = a.atypical ? "#ff4d4d" : "#ffffff";
    ctx.strokeStyle = "#000";
    ctx.beginPath(); ctx.arc(qx, qy, 6 * r, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    c.dataset.drawing = `${qx.toFixed(1)},${qy.toFixed(1)}`;
  }

  zoom(e) {
    if (!this.map) return;
    e.preventDefault();
    const c = this.dom.map, rect = c.getBoundingClientRect();
    const mx = (e.clientX - rect.left) * (c.width / rect.width) - c.width / 2;
    const my = (e.clientY - rect.top) * (c.height / rect.height) - c.height / 2;
    const f = Math.exp(-e.deltaY * 0.002);
    this.view.x = mx - (mx - this.view.x) * f;
    this.view.y = my - (my - this.view.y) * f;
    this.view.scale *= f;
    this.paint();
  }

  move(e) {
    if (!this.map) return;
    const c = this.dom.map, rect = c.getBoundingClientRect();
    const k = c.width / rect.width;
    if (this.drag) {
      this.view.x += (e.clientX - this.drag.x) * k;
      this.view.y += (e.clientY - this.drag.y) * k;
      this.drag = { x: e.clientX, y: e.clientY };
      this.paint();
      return;
    }
    const mx = (e.clientX - rect.left) * k, my = (e.clientY - rect.top) * k;
    let best = -1, bestD = (HOVER_PX * k) ** 2;
    const m = this.map;
    for (let i = 0; i < m.labels.length; i++) {
      const [x, y] = this.toScreen(m.points[2 * i], m.points[2 * i + 1]);
      const d = (x - mx) ** 2 + (y - my) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    }
    if (best < 0) { this.dom.tip.hidden = true; return; }
    this.dom.tip.hidden = false;
    this.dom.tip.style.left = `${e.clientX - rect.left + 12}px`;
    this.dom.tip.style.top = `${e.clientY - rect.top + 12}px`;
    this.dom.tipText.textContent = `${aClass(m.labels[best])} · training ${noun()} #${m.indices[best]}`;
    this.h.onHover(m.model, m.indices[best]);
  }

  showDigit(model, index, pixels) {
    this.digits.set(`${model}:${index}`, pixels);
    paintGray(this.dom.tipCanvas, pixels, 28, 28);
  }

  cachedDigit(model, index) {
    return this.digits.get(`${model}:${index}`);
  }

  show(a) {
    this.answer = a;
    const nearest = a.neighbors[0];
    const votes = new Array(classNames().length).fill(0);
    for (const n of a.neighbors) votes[n.label] += 1;
    const common = votes.indexOf(Math.max(...votes));
    this.dom.verdict.classList.toggle("atypical", a.atypical);
    this.dom.verdict.textContent = a.atypical
      ? `This doesn't look like any ${noun()} I know — closest is ${aClass(nearest.label)}. ` +
        `(The network still says ${className(a.label)}, ${pct(a.probabilities[a.label])}: don't trust that.)`
      : `Looks like the ${className(common)} ${plural()} it learnt from: ${votes[common]} of its ` +
        `${a.neighbors.length} nearest training ${plural()} are ${className(common)}.`;
    this.dom.neighbours.replaceChildren(...a.neighbors.map((n) => {
      const canvas = el("canvas", { width: 28, height: 28, className: "nb-digit" });
      paintGray(canvas, decodeSample(n), 28, 28);
      return el("figure", { className: "nb" }, canvas, el("figcaption", { title: className(n.label) }, `${classTag(n.label)} · ${n.distance.toFixed(2)}`));
    }));
    a.probabilities.forEach((p, d) => {
      this.bars[d].style.transform = `scaleY(${Math.max(0, Math.min(1, p))})`;
      this.bars[d].parentElement.parentElement.classList.toggle("win", d === a.label);
    });
    this.paint();
  }

  showFlips(flips) {
    this.dom.flips.replaceChildren(...flips.map((f) => {
      const changed = el("canvas", { width: 28, height: 28, className: "flip-digit" });
      const diff = el("canvas", { width: 28, height: 28, className: "flip-digit" });
      const values = f.pixels.values;
      paintGray(changed, values, 28, 28);
      paintSigned(diff, f.difference.values, 28, 28);
      const title = f.add_only ? "adding ink only" : "any change";
      const text = f.steps === 0 && f.reached
        ? `already read as ${className(f.label)}: nothing to change`
        : f.reached
        ? `now read as ${className(f.label)} (${pct(f.probabilities[f.label])}) after ${f.steps} steps: ` +
          `${f.ink_added.toFixed(1)} px of ink added, ${f.ink_removed.toFixed(1)} removed, ` +
          `no pixel changed by more than ${Math.round(f.linf * 100)} %`
        : `not reached within ${f.max_steps} steps (at most ${Math.round(f.epsilon * 100)} % per pixel)`;
      return el("div", { className: "flip", "data-label": String(f.label) },
        el("h4", {}, `Make it ${aClass(f.target)}: ${title}`),
        el("div", { className: "flip-images" },
          el("figure", {}, changed, el("figcaption", {}, "changed")),
          el("figure", {}, diff, el("figcaption", {}, "difference"))),
        el("p", { className: "small" }, text));
    }));
  }
}

export const whereView = {
  id: "where",
  follows: ["model", "source"],
  settings: () => ({ target: null }),

  create(ctx) {
    const $ = (id) => document.getElementById(id);
    const painter = new WherePanel({
      map: $("where-map"), tip: $("where-tip"), tipCanvas: $("where-tip-digit"), tipText: $("where-tip-text"),
      verdict: $("where-verdict"), neighbours: $("where-neighbours"), bars: $("where-bars"),
      buttons: $("where-make"), flips: $("where-flips"),
    }, {
      onTarget: (d) => { ctx.settings.target = d; ctx.refresh(); },
      onHover: async (model, index) => {
        const cached = painter.cachedDigit(model, index);
        if (cached) { painter.showDigit(model, index, cached); return; }
        try {
          painter.showDigit(model, index, decodeSample(await api.getDigit(model, index)));
        } catch { /* the tooltip keeps its text */ }
      },
    });
    return painter;
  },

  shown: (ctx) => ctx.painter.paint(),

  // While its tab is open the map follows the pen even scrolled out of sight (a query is a
  // few milliseconds), so it is current when the reader looks back at it.
  liveOffScreen: (ctx) => ctx.page.teach.tab === "where",

  modelChanged(ctx) {
    ctx.settings.target = null;
    ctx.painter.setClasses();
  },

  request: (ctx) => ({ target: ctx.settings.target }),

  async ask(ctx, req) {
    const map = ctx.painter.map && ctx.painter.map.model === req.model ? null : await api.getMap(req.model);
    const answer = await api.neighbors(req.model, req.source, K);
    let flips = null;
    if (req.options.target !== null) {
      flips = await Promise.all([false, true].map(async (addOnly) =>
        decodeTree(await api.counterfactual(req.model, req.source, req.options.target, { add_only: addOnly }))));
    }
    return { map, answer, flips, model: req.model };
  },

  apply(ctx, result) {
    if (result.map) ctx.painter.setMap(result.model, result.map);
    ctx.painter.show(result.answer);
    if (result.flips) ctx.painter.showFlips(result.flips);
  },
};
