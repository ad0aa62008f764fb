/* "Why did it say that?": the controls (method, Grad-CAM layer, occlusion patch, target class,
   3D overlay) and an /api/explain answer painted over the 28×28 input the network saw
   (Simonyan et al. 2014; Selvaraju et al. 2017; Zeiler & Fergus 2014). The panel descriptor
   (panels.js) decides what to ask; WhyPanel only renders and reports the user's choices. */

import { offUnits } from "./ablate.js";
import * as api from "./api.js";
import { decodeTree } from "./codec.js";
import { el } from "./dom.js";
import { aClass, className, classNames, noun } from "./datasets.js";
import { fmt, pct } from "./format.js";
import { layered } from "./marks.js";
import { maxAbs, paintHeat, paintHeatLegend, paintSigned } from "./paint.js";

const BIG = 224;
const SMALL = 112;

const METHOD_TEXT = {
  saliency: "Saliency: how much the target class's score (before softmax) changes when each pixel " +
    "changes, |∂ score / ∂ pixel|, from the network's own backward pass. Bright pixels are the " +
    "ones the score is most sensitive to, ink or paper.",
  gradcam: "Grad-CAM: each feature map of the chosen layer weighted by the mean gradient of the " +
    "target score over it (α), summed, kept where positive and stretched back to 28×28. It shows " +
    "where the layer saw evidence for the target.",
  occlusion: "Occlusion: a blank patch slides over the image and the network is run once per " +
    "position (one batched forward); each pixel shows how much hiding it lowers the target's " +
    "probability. Magenta: hiding it made the target likelier.",
};

class WhyPanel {
  /**
   * @param {{methods, layer, layerWrap, patch, stride, occWrap, overlay, targets, figures, text, legend}} dom
   * @param {{onOptions: (changes) => void}} handlers onOptions({method | layer | patch | stride |
   *   target | overlay}) reports a change of the user's settings
   */
  constructor(dom, handlers) {
    this.dom = dom;
    this.h = handlers;
    for (const b of dom.methods.querySelectorAll("[data-method]")) {
      b.addEventListener("click", () => this.h.onOptions({ method: b.dataset.method }));
    }
    dom.layer.addEventListener("change", () => this.h.onOptions({ layer: dom.layer.value || null }));
    for (const key of ["patch", "stride"]) {
      dom[key].addEventListener("change", () => {
        const v = Math.round(Number(dom[key].value));
        const ok = Number.isFinite(v) && v >= 2 && v <= 14;
        dom[key].setCustomValidity(ok ? "" : "a whole number from 2 to 14");
        if (ok) this.h.onOptions({ [key]: v });
      });
    }
    dom.overlay.addEventListener("change", () => this.h.onOptions({ overlay: dom.overlay.checked }));
    this.targetButtons = [];
    this.targetNames = "";
    paintHeatLegend(dom.legend);
    this.build();
  }

  /** One target button per class of the shown network's dataset ("auto": the predicted one). */
  setTargets() {
    const names = classNames();
    if (names.join("\n") === this.targetNames) return;
    this.targetNames = names.join("\n");
    this.targetButtons = [null, ...names.keys()].map((d) => {
      const p = el("span", { className: "t-p" }, "");
      const b = el("button", {
        type: "button", className: "target", dataset: { target: d === null ? "auto" : String(d) },
        title: d === null ? `explain the predicted ${noun()}` : `why (or why not) ${aClass(d)}?`,
        onclick: () => this.h.onOptions({ target: d }),
      }, el("span", { className: "t-d" }, d === null ? "auto" : className(d)), p);
      return { d, b, p };
    });
    this.dom.targets.replaceChildren(el("span", { className: "muted small" }, `explain the ${noun()}`),
      ...this.targetButtons.map((t) => t.b));
  }

  /** The layers Grad-CAM can use: every layer with feature maps (C, H, W); the target classes. */
  setModel(model) {
    this.setTargets();
    const maps = model.layers.filter((l) => l.output_shape.length === 3);
    this.dom.layer.replaceChildren(el("option", { value: "" }, "default (last conv activation)"),
      ...maps.map((l) => el("option", { value: l.name }, `${l.name} (${l.output_shape.join("×")})`)));
  }

  /** Reflect the settings (state.teach.why) in the controls. */
  setOptions(o) {
    for (const b of this.dom.methods.querySelectorAll("[data-method]")) {
      const on = b.dataset.method === o.method;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", String(on));
    }
    this.dom.layerWrap.hidden = o.method !== "gradcam";
    this.dom.occWrap.hidden = o.method !== "occlusion";
    this.dom.layer.value = o.layer || "";
    this.dom.patch.value = String(o.patch);
    this.dom.stride.value = String(o.stride);
    this.dom.overlay.checked = o.overlay;
    for (const t of this.targetButtons) {
      const on = t.d === o.target;
      t.b.classList.toggle("active", on);
      t.b.setAttribute("aria-pressed", String(on));
    }
  }

  /** The current prediction's probabilities beside the target classes (null: none). */
  setProbabilities(probs, label) {
    for (const t of this.targetButtons) {
      if (t.d === null) {
        t.p.textContent = label === null ? "" : className(label);
        continue;
      }
      t.p.textContent = probs ? pct(probs[t.d]) : "";
      t.b.classList.toggle("predicted", t.d === label);
    }
  }

  build() {
    this.main = layered(28, 28, BIG, BIG, "The heatmap over the 28×28 input the network saw");
    this.main.canvas.id = "why-overlay";
    this.heat = layered(28, 28, SMALL, SMALL, "The heatmap alone");
    this.heat.canvas.id = "why-heat";
    this.extra = layered(28, 28, SMALL, SMALL, "The method's own view");
    this.extra.canvas.id = "why-extra";
    this.alpha = document.createElement("canvas");
    this.alpha.className = "why-alpha";
    this.captions = {
      main: el("figcaption", {}, "heat over the 28×28 input"),
      heat: el("figcaption", {}, "the map alone · 28×28"),
      extra: el("figcaption", {}, ""),
    };
    this.extraFig = el("figure", { className: "why-fig" }, this.extra.el, this.alpha, this.captions.extra);
    this.dom.figures.replaceChildren(
      el("figure", { className: "why-fig big" }, this.main.el, this.captions.main),
      el("div", { className: "why-side" },
        el("figure", { className: "why-fig" }, this.heat.el, this.captions.heat),
        this.extraFig));
  }

  placeholder(text) {
    this.dom.text.replaceChildren(el("p", { className: "muted" }, text));
    this.dom.figures.classList.add("empty");
    this.dom.figures.dataset.method = "";
  }

  /**
   * Paint a decoded answer: {label, probabilities, method, target, target_probability, layer,
   * patch, stride, map {shape, values}, map_range, coarse, channel_weights, gradient}; `heat` is
   * the map as drawn (in [-1, 1]); `input` the 28×28 image (nested rows) it lines up with, or null.
   */
  show(a, heat, input) {
    const base = input ? Float32Array.from(input.flat()) : null;
    this.dom.figures.classList.remove("empty");
    this.dom.figures.dataset.method = a.method;
    this.dom.figures.dataset.target = String(a.target);
    paintHeat(this.main.canvas, base, heat, 28, 28);
    paintHeat(this.heat.canvas, null, heat, 28, 28);
    this.alpha.hidden = true;
    this.extra.marks.clear();
    if (a.method === "saliency" && a.gradient) {
      paintSigned(this.extra.canvas, a.gradient.values, 28, 28);
      this.extra.marks.resize(28, 28);
      this.captions.extra.textContent = "signed gradient ∂ score / ∂ pixel · 28×28 (warm: more ink raises the score)";
    } else if (a.coarse) {
      const [h, w] = a.coarse.shape;
      const peak = a.method === "occlusion" ? maxAbs(a.coarse.values) : 1;
      const coarse = peak > 0 ? a.coarse.values.map((v) => v / peak) : a.coarse.values;
      paintHeat(this.extra.canvas, null, coarse, w, h);
      this.extra.marks.resize(w, h);
      this.captions.extra.textContent = a.method === "gradcam"
        ? `Grad-CAM at ${a.layer}'s resolution · ${h}×${w}, before upsampling`
        : `probability drop per patch position · ${h}×${w} (${a.patch}×${a.patch} patch, stride ${a.stride})`;
      if (a.method === "gradcam" && a.channel_weights) {
        const alpha = Float32Array.from(a.channel_weights);
        paintSigned(this.alpha, alpha, alpha.length, 1);
        this.alpha.hidden = false;
        this.alpha.title = `α: the weight of each of ${alpha.length} maps (largest |α| ${fmt(maxAbs(alpha))})`;
      }
    }
    this.extraFig.hidden = !(a.method === "saliency" ? a.gradient : a.coarse);
    const asked = a.target === a.label ? `Why ${aClass(a.target)}?` : `Why not ${aClass(a.target)}?`;
    const said = a.target === a.label
      ? `The network says ${className(a.label)} with p = ${pct(a.target_probability)}.`
      : `The network says ${className(a.label)} (p = ${pct(a.probabilities[a.label])}); ` +
        `p(${className(a.target)}) = ${pct(a.target_probability)}.`;
    const range = a.map_range[0] < 0
      ? `probability drops ${fmt(a.map.min)} … ${fmt(a.map.max)}, drawn scaled to the largest`
      : `map scaled to its peak (largest ${fmt(a.map.max)})`;
    this.dom.text.replaceChildren(
      el("h3", {}, asked),
      el("p", {}, said),
      el("p", { className: "explain" }, METHOD_TEXT[a.method]),
      el("p", { className: "muted small" }, `${a.method}${a.layer ? ` on ${a.layer}` : ""} · ${range}`));
  }
}

/** The heat drawn for an explanation, in [-1, 1]: occlusion's probability drops are stretched
    to their largest so small effects stay visible (the text keeps the real numbers). */
function heatOf(answer) {
  const values = answer.map.values;
  if (answer.method !== "occlusion") return values;
  const peak = maxAbs(values);
  return peak > 0 ? values.map((v) => v / peak) : values;
}

const $ = (id) => document.getElementById(id);

export const whyView = {
  id: "why",
  follows: ["model", "source"],
  /** overlay: the user turned the heat on for the 3D view's input (off until they do); engaged:
      an explanation has been shown since, so the heat follows the drawing there. */
  settings: () => ({
    method: "saliency", layer: null, patch: 6, stride: 2, target: null, overlay: false, engaged: false, answer: null,
  }),

  create(ctx) {
    const painter = new WhyPanel({
      methods: $("why-methods"), layer: $("why-layer"), layerWrap: $("why-layer-wrap"),
      patch: $("why-patch"), stride: $("why-stride"), occWrap: $("why-occ-wrap"),
      overlay: $("why-3d"), targets: $("why-targets"), figures: $("why-figures"),
      text: $("why-text"), legend: $("why-legend"),
    }, { onOptions: (changes) => whyView.update(ctx, changes) });
    painter.setOptions(ctx.settings);
    return painter;
  },

  update(ctx, changes) {
    const w = ctx.settings;
    Object.assign(w, changes);
    ctx.painter.setOptions(w);
    ctx.hooks.setTarget(w.target);
    if ("overlay" in changes) ctx.showOverlay();
    ctx.refresh();
  },

  /** The heatmap also lives on the 3D view, once the user has met it. */
  liveOffScreen: (ctx) => ctx.settings.overlay && ctx.settings.engaged,

  overlay(ctx) {
    const { overlay, answer: a } = ctx.settings;
    if (!overlay || !a || a.model !== ctx.page.modelName || !ctx.page.source) return null;
    const method = { saliency: "saliency", gradcam: `Grad-CAM (${a.layer})`, occlusion: "occlusion" }[a.method];
    return { values: heatOf(a), caption: `input: ${method} heat for ${aClass(a.target)}` };
  },

  modelChanged(ctx, model) {
    const w = ctx.settings;
    ctx.painter.setModel(model);
    if (w.layer && !model.layers.some((l) => l.name === w.layer)) w.layer = null;
    if (w.target !== null && w.target >= model.classes.length) w.target = null;
    ctx.painter.setOptions(w);
    w.answer = null;
  },

  cleared(ctx) {
    ctx.settings.answer = null;
    ctx.painter.setProbabilities(null, null);
  },

  failed(ctx) {
    ctx.settings.answer = null;
  },

  predicted(ctx, result) {
    ctx.painter.setProbabilities(result.probabilities, result.label);
  },

  request(ctx) {
    const w = ctx.settings;
    const options = { method: w.method, ...(w.target !== null ? { target: w.target } : {}) };
    if (w.method === "gradcam" && w.layer) options.layer = w.layer;
    if (w.method === "occlusion") Object.assign(options, { patch: w.patch, stride: w.stride });
    // explained as predicted: with the units switched off (issue 16), if any
    const off = offUnits();
    if (off.length) options.ablate = off;
    return options;
  },

  ask: async (ctx, req) => decodeTree(await api.explain(req.model, req.source, req.options)),

  apply(ctx, answer) {
    ctx.settings.answer = answer;
    ctx.settings.engaged = true;
    ctx.painter.show(answer, heatOf(answer), ctx.page.result ? ctx.page.result.input : null);
    ctx.showOverlay();
  },
};
