/* Robustness probes: sliders that shift, rotate, scale and thicken the current drawing, the
   transformed image with the network's answer, and how the target class's probability falls
   off as the drawing slides sideways or up and down (one batched forward on the server). Paints
   /api/robustness answers and reports slider moves; class names come from datasets.js. */

import * as api from "./api.js";
import { lineChart } from "./chart.js";
import { decodeTree } from "./codec.js";
import { el } from "./dom.js";
import { aClass, className, classNames, classTag, noun } from "./datasets.js";
import { pct } from "./format.js";
import { paintGray } from "./paint.js";

const PROBES = [
  { key: "dx", label: "shift right", min: -10, max: 10, step: 0.5, unit: " px", neutral: 0 },
  { key: "dy", label: "shift down", min: -10, max: 10, step: 0.5, unit: " px", neutral: 0 },
  { key: "angle", label: "rotate", min: -45, max: 45, step: 1, unit: "°", neutral: 0 },
  { key: "scale", label: "scale", min: 0.5, max: 1.5, step: 0.05, unit: "×", neutral: 1 },
  { key: "thickness", label: "thickness", min: -2, max: 2, step: 1, unit: "", neutral: 0 },
];
const H_COLOR = "#f89c3a";
const V_COLOR = "#5ab4f0";

class RobustPanel {
  /**
   * @param {{controls, target, reset, original, transformed, verdict, bars, curve, curveNote}} dom
   * @param {{onChange: (changes) => void}} handlers slider, target and reset changes
   */
  constructor(dom, handlers) {
    this.dom = dom;
    this.h = handlers;
    this.inputs = {};
    this.outputs = {};
    dom.controls.replaceChildren(...PROBES.map((p) => {
      const input = el("input", {
        type: "range", min: String(p.min), max: String(p.max), step: String(p.step), value: String(p.neutral),
        id: `probe-${p.key}`, oninput: () => this.h.onChange({ [p.key]: Number(input.value) }),
      });
      const out = el("output", { className: "num", htmlFor: input.id }, "");
      this.inputs[p.key] = input;
      this.outputs[p.key] = out;
      return el("label", { className: "probe" }, el("span", {}, p.label), input, out);
    }));
    dom.reset.addEventListener("click", () => this.h.onChange(Object.fromEntries(PROBES.map((p) => [p.key, p.neutral]))));
    dom.target.addEventListener("change", () => this.h.onChange({ target: dom.target.value === "" ? null : Number(dom.target.value) }));
    this.bars = [];
    this.answer = null;
  }

  /** The target choices and probability bars for the shown network's classes. */
  setClasses() {
    const names = classNames();
    this.dom.target.replaceChildren(el("option", { value: "" }, "the predicted class"),
      ...names.map((_, d) => el("option", { value: String(d) }, aClass(d))));
    const bars = names.map((_, d) => {
      const fill = el("i", {});
      return { fill, bar: el("span", { className: "mini-bar", title: `p(${className(d)})` }, el("b", {}, fill), el("small", {}, classTag(d))) };
    });
    this.dom.bars.replaceChildren(...bars.map((b) => b.bar));
    this.bars = bars.map((b) => b.fill);
  }

  /** Reflect the settings (state.teach.robust) in the controls. */
  setOptions(o) {
    for (const p of PROBES) {
      this.inputs[p.key].value = String(o[p.key]);
      const v = o[p.key];
      this.outputs[p.key].textContent = p.key === "thickness"
        ? (v > 0 ? `+${v} thicker` : v < 0 ? `${-v} thinner` : "as drawn")
        : `${p.neutral === 0 ? signed(v) : v}${p.unit}`;
    }
    this.dom.target.value = o.target === null ? "" : String(o.target);
  }

  /** The drawing as the network saw it before any transform (28×28 rows), or null. */
  setOriginal(input) {
    paintGray(this.dom.original, input ? input.flat() : null, 28, 28);
  }

  placeholder(text) {
    this.answer = null;
    this.dom.verdict.textContent = text;
    paintGray(this.dom.transformed, null, 28, 28);
    for (const b of this.bars) b.style.transform = "scaleY(0)";
    this.dom.curveNote.textContent = "";
    this.dom.curve.getContext("2d").clearRect(0, 0, this.dom.curve.width, this.dom.curve.height);
  }

  /** Paint an answer: {label, probabilities, input, original_label, target, target_probability, transform, shift_curve}. */
  show(a) {
    this.answer = a;
    paintGray(this.dom.transformed, a.input.flat(), 28, 28);
    this.dom.transformed.dataset.label = String(a.label);
    const changed = a.label !== a.original_label;
    this.dom.verdict.replaceChildren(
      el("span", { className: `verdict-digit${changed ? " changed" : ""}${className(a.label).length > 2 ? " word" : ""}`, id: "probe-label" },
        className(a.label)),
      el("span", {}, `${pct(a.probabilities[a.label])} sure`,
        el("br"), el("span", { className: "muted" }, changed ? `it said ${className(a.original_label)} before` : "same answer as drawn"),
        el("br"), el("span", { className: "muted" }, `p(${className(a.target)}) = ${pct(a.target_probability)}`)));
    a.probabilities.forEach((p, d) => {
      this.bars[d].style.transform = `scaleY(${Math.max(0, Math.min(1, p))})`;
      this.bars[d].parentElement.parentElement.classList.toggle("win", d === a.label);
    });
    this.paintCurve();
  }

  paintCurve() {
    const a = this.answer;
    if (!a || !this.dom.curve.clientWidth) return;
    const c = a.shift_curve;
    const notes = [];
    c.shifts.forEach((s, i) => {
      if (c.labels_horizontal[i] !== a.target) notes.push({ x: s, y: c.horizontal[i], text: classTag(c.labels_horizontal[i]), color: H_COLOR });
      if (c.labels_vertical[i] !== a.target) notes.push({ x: s, y: c.vertical[i], text: classTag(c.labels_vertical[i]), color: V_COLOR });
    });
    lineChart(this.dom.curve, {
      x: c.shifts, xTicks: c.shifts.filter((s) => s % 2 === 0), xFormat: signed,
      series: [{ values: c.horizontal, color: H_COLOR }, { values: c.vertical, color: V_COLOR, dash: [5, 3] }],
      yMin: 0, yMax: 1, yTicks: [0, 0.25, 0.5, 0.75, 1], yFormat: (v) => `${Math.round(v * 100)}%`,
      markers: [{ x: Math.max(-8, Math.min(8, a.transform.dx)), label: "dx", color: H_COLOR },
        { x: Math.max(-8, Math.min(8, a.transform.dy)), label: "dy", color: V_COLOR }],
      notes,
    });
    const still = (labels) => runs(c.shifts, labels.map((d) => d === a.target));
    this.dom.curveNote.textContent = `p(${className(a.target)}) as the ${noun()} slides (other transforms as set). ` +
      `Still ${aClass(a.target)}: sideways ${still(c.labels_horizontal)}; up/down ${still(c.labels_vertical)}. ` +
      "Small labels mark the shifts where the network says something else.";
  }
}

/** The stretches of `shifts` where `keep` holds, as text: "−7 … −5, +1 px", or "nowhere". */
function runs(shifts, keep) {
  const parts = [];
  let start = null;
  shifts.forEach((s, i) => {
    if (keep[i] && start === null) start = s;
    if (keep[i] && !keep[i + 1]) {
      parts.push(start === s ? signed(s) : `${signed(start)} … ${signed(s)}`);
      start = null;
    }
  });
  return parts.length ? `${parts.join(", ")} px` : "nowhere";
}

/** +3, −2.5, 0 (a true minus sign). */
function signed(v) {
  return v > 0 ? `+${v}` : v < 0 ? `−${-v}` : "0";
}

export const robustView = {
  id: "robust",
  follows: ["model", "source"],
  settings: () => ({ dx: 0, dy: 0, angle: 0, scale: 1, thickness: 0, target: null }),

  create(ctx) {
    const $ = (id) => document.getElementById(id);
    const painter = new RobustPanel({
      controls: $("probe-controls"), target: $("probe-target"), reset: $("probe-reset"),
      original: $("probe-original"), transformed: $("probe-transformed"), verdict: $("probe-verdict"),
      bars: $("probe-bars"), curve: $("probe-curve"), curveNote: $("probe-curve-note"),
    }, {
      onChange: (changes) => {
        Object.assign(ctx.settings, changes);
        painter.setOptions(ctx.settings);
        ctx.refresh();
      },
    });
    painter.setOptions(ctx.settings);
    return painter;
  },

  shown: (ctx) => ctx.painter.paintCurve(),

  modelChanged(ctx, model) {
    if (ctx.settings.target !== null && ctx.settings.target >= model.classes.length) ctx.settings.target = null;
    ctx.painter.setClasses();
    ctx.painter.setOptions(ctx.settings);
  },

  cleared(ctx) {
    ctx.painter.setOriginal(null);
  },

  predicted(ctx, result) {
    ctx.painter.setOriginal(result.input);
  },

  request(ctx) {
    const r = ctx.settings;
    return {
      dx: r.dx, dy: r.dy, angle: r.angle, scale: r.scale, thickness: r.thickness,
      ...(r.target !== null ? { target: r.target } : {}),
    };
  },

  ask: async (ctx, req) => decodeTree(await api.robustness(req.model, req.source, req.options)),

  apply(ctx, answer) {
    ctx.painter.show(answer);
  },
};
