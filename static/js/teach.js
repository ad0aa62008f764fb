/* Wiring of the explain-and-teach views: tabs, which view is live (on screen, or the heatmap
   shown on the 3D view), one paced request per view whenever its model, drawing or settings
   change, decoding, and handing answers to the panels. Views off screen only go stale and
   catch up when they come back into view. */

import * as api from "./api.js";
import { decodeQuantised, decodeBytes, decodeSample } from "./codec.js";
import { Im2colPanel } from "./im2colview.js";
import { latestOnly } from "./latest.js";
import { maxAbs } from "./paint.js";
import { PrepPanel } from "./prepview.js";
import { QualityPanel } from "./quality.js";
import { RobustPanel } from "./robust.js";
import { state } from "./state.js";
import { WhyPanel } from "./why.js";

const TABS = ["why", "im2col", "prep", "quality", "robust"];

const $ = (id) => document.getElementById(id);

function decodeTree(value) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    if (value.encoding === "uint8" && typeof value.data === "string") {
      return "min" in value ? decodeQuantised(value) : decodeBytes(value);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeTree(v)]));
  }
  return value;
}

/** The heat drawn for an explanation, in [-1, 1]: occlusion's probability drops are stretched
    to their largest so small effects stay visible (the text keeps the real numbers). */
function heatOf(answer) {
  const values = answer.map.values;
  if (answer.method !== "occlusion") return values;
  const peak = maxAbs(values);
  return peak > 0 ? values.map((v) => v / peak) : values;
}

export class Teach {
  /**
   * @param {{busy: (on) => void, loadDigit: (pixels, note) => void, setOverlay: (values | null) => void,
   *   setTarget: (digit | null) => void, describeSource: (source) => {image, note}}} hooks
   *   setOverlay(values, caption) shows a heatmap on the 3D view's input; setTarget marks the
   *   digit the Why view explains; describeSource gives the image (data URL) whose preprocessing
   *   to show for a source, and a note on where it came from
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.sourceId = 0;
    this.asked = {}; // per view: the key of the last request (model, drawing, settings)
    const t = state.teach;

    this.why = new WhyPanel({
      methods: $("why-methods"), layer: $("why-layer"), layerWrap: $("why-layer-wrap"),
      patch: $("why-patch"), stride: $("why-stride"), occWrap: $("why-occ-wrap"),
      overlay: $("why-3d"), targets: $("why-targets"), figures: $("why-figures"),
      text: $("why-text"), legend: $("why-legend"),
    }, { onOptions: (changes) => this.setWhy(changes) });
    this.im2col = new Im2colPanel({ layer: $("im-layer"), body: $("im-body") }, {
      onLayer: (name) => {
        t.im2col.layer = name;
        this.refresh("im2col");
      },
    });
    this.prep = new PrepPanel({ body: $("prep-body"), note: $("prep-note") });
    this.quality = new QualityPanel({
      summary: $("quality-summary"), loss: $("curve-loss"), acc: $("curve-acc"), legend: $("curve-legend"),
      hover: $("curve-hover"), confusion: $("confusion-wrap"), gallery: $("mistakes"), galleryNote: $("mistakes-note"),
    }, {
      onFilter: (cell) => {
        t.quality.filter = cell;
        this.quality.showMistakes(t.quality.mistakes, cell, this.mistakesMessage);
      },
      onLoad: (d) => this.hooks.loadDigit(d.pixels,
        `MNIST test digit #${d.index}: a ${d.label} that ${state.modelName} took for ${d.predicted} (p = ${(d.confidence * 100).toFixed(1)}%).`),
    });
    this.robust = new RobustPanel({
      controls: $("probe-controls"), target: $("probe-target"), reset: $("probe-reset"),
      original: $("probe-original"), transformed: $("probe-transformed"), verdict: $("probe-verdict"),
      bars: $("probe-bars"), curve: $("probe-curve"), curveNote: $("probe-curve-note"),
    }, {
      onChange: (changes) => {
        Object.assign(t.robust, changes);
        this.robust.setOptions(t.robust);
        this.refresh("robust");
      },
    });
    this.why.setOptions(t.why);
    this.robust.setOptions(t.robust);

    this.run = {};
    for (const kind of TABS) this.run[kind] = latestOnly((req) => this.fetch(kind, req), hooks.busy);

    for (const kind of TABS) $(`tab-${kind}`).addEventListener("click", () => this.setTab(kind));
    $("teach-tabs").addEventListener("keydown", (e) => this.tabKeys(e));
    new IntersectionObserver((entries) => {
      t.visible = entries.some((e) => e.isIntersecting);
      if (t.visible) this.refreshAll();
    }, { rootMargin: "0px 0px -40px 0px" }).observe($("teach")); // seen, not merely touching the edge
    new ResizeObserver(() => {
      this.quality.paintCurves();
      this.robust.paintCurve();
    }).observe($("teach"));
    this.setTab(t.tab);
  }

  // ----- what to show -------------------------------------------------------------------------

  setTab(kind) {
    state.teach.tab = kind;
    for (const k of TABS) {
      const on = k === kind;
      $(`tab-${k}`).setAttribute("aria-selected", String(on));
      $(`tab-${k}`).tabIndex = on ? 0 : -1;
      $(`panel-${k}`).hidden = !on;
    }
    this.showOverlay();
    if (kind === "quality") this.quality.paintCurves();
    if (kind === "robust") this.robust.paintCurve();
    this.refresh(kind);
  }

  tabKeys(e) {
    const i = TABS.indexOf(state.teach.tab);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (!step) return;
    e.preventDefault();
    const next = TABS[(i + step + TABS.length) % TABS.length];
    this.setTab(next);
    $(`tab-${next}`).focus();
  }

  /** A view asks the server only while someone can see it (the heatmap also lives in 3D, once
      the user has met it). */
  live(kind) {
    const t = state.teach;
    if (t.tab !== kind) return false;
    return t.visible || (kind === "why" && t.why.overlay && t.why.engaged);
  }

  /** The heatmap on the 3D view's input layer: the Why tab's answer for the current drawing. */
  showOverlay() {
    const t = state.teach;
    const a = t.why.answer;
    const on = t.tab === "why" && t.why.overlay && a && a.model === state.modelName && state.source;
    const method = { saliency: "saliency", gradcam: `Grad-CAM (${a?.layer})`, occlusion: "occlusion" }[a?.method];
    this.hooks.setOverlay(on ? heatOf(a) : null, on ? `input: ${method} heat for a ${a.target}` : "");
  }

  // ----- changes from the page --------------------------------------------------------------

  /** A new model: its layer lists, fresh views. */
  setModel(model) {
    const t = state.teach;
    this.why.setModel(model);
    if (t.why.layer && !model.layers.some((l) => l.name === t.why.layer)) t.why.layer = null;
    this.why.setOptions(t.why);
    const usable = this.im2col.setModel(model, t.im2col.layer);
    if (!usable.includes(t.im2col.layer)) t.im2col.layer = usable[0] || null;
    this.im2col.dom.layer.value = t.im2col.layer || "";
    t.why.answer = null;
    t.im2col.answer = null;
    t.robust.answer = null;
    t.quality = { filter: null, detail: null, mistakes: null };
    this.showOverlay();
    this.quality.placeholder("Loading this model's training record…");
    this.refresh("quality"); // the other views follow the drawing, asked again for this model
  }

  /** The drawing changed ({image} or {pixels}), or the pad was cleared (null). */
  setSource(source) {
    this.sourceId += 1;
    if (!source) {
      const t = state.teach;
      t.why.answer = null;
      t.im2col.answer = null;
      t.robust.answer = null;
      t.prep.answer = null;
      this.showOverlay();
      const hint = "Draw a digit (or load one) to see this.";
      this.why.placeholder(hint);
      this.im2col.placeholder(hint);
      this.prep.placeholder(hint);
      this.robust.placeholder(hint);
      this.robust.setOriginal(null);
      this.why.setProbabilities(null, null);
      return;
    }
    this.refreshAll();
  }

  /** A prediction arrived for the current drawing. */
  predicted(result) {
    this.why.setProbabilities(result.probabilities, result.label);
    this.robust.setOriginal(result.input);
  }

  /** "Why (not) a d?" asked from elsewhere (a probability bar): the Why tab, explaining d. */
  explainTarget(d) {
    state.teach.why.engaged = true;
    if (state.teach.tab !== "why") this.setTab("why");
    this.setWhy({ target: d });
  }

  setWhy(changes) {
    const w = state.teach.why;
    Object.assign(w, changes);
    this.why.setOptions(w);
    this.hooks.setTarget(w.target);
    if ("overlay" in changes) this.showOverlay();
    this.refresh("why");
  }

  // ----- requests ---------------------------------------------------------------------------

  refreshAll() {
    for (const kind of TABS) this.refresh(kind);
  }

  /** The request a view needs now, with a key naming everything its answer depends on. */
  request(kind) {
    const t = state.teach;
    const model = state.modelName;
    const source = state.source;
    if (kind === "quality") return model ? { model, key: `q|${model}` } : null;
    if (!source || !model) return null;
    let options = {};
    if (kind === "why") {
      const w = t.why;
      options = { method: w.method, ...(w.target !== null ? { target: w.target } : {}) };
      if (w.method === "gradcam" && w.layer) options.layer = w.layer;
      if (w.method === "occlusion") Object.assign(options, { patch: w.patch, stride: w.stride });
    } else if (kind === "im2col") {
      options = { layer: t.im2col.layer };
    } else if (kind === "robust") {
      const r = t.robust;
      options = { dx: r.dx, dy: r.dy, angle: r.angle, scale: r.scale, thickness: r.thickness,
        ...(r.target !== null ? { target: r.target } : {}) };
    }
    // The preprocessing steps depend on the drawing alone, not on the model.
    const key = `${kind}|${kind === "prep" ? "" : model}|${this.sourceId}|${JSON.stringify(options)}`;
    return { model, source, options, key, sourceId: this.sourceId };
  }

  refresh(kind) {
    if (!this.live(kind)) return;
    const req = this.request(kind);
    if (!req || this.asked[kind] === req.key) return;
    this.asked[kind] = req.key;
    this.run[kind](req);
  }

  /** Still what the page wants? (Otherwise a newer request is queued or the view is stale.) */
  current(kind, req) {
    const now = this.request(kind);
    return now !== null && now.key === req.key;
  }

  async fetch(kind, req) {
    try {
      let answer;
      if (kind === "why") answer = await api.explain(req.model, req.source, req.options);
      else if (kind === "im2col") answer = await api.im2col(req.model, req.source, req.options.layer);
      else if (kind === "robust") answer = await api.robustness(req.model, req.source, req.options);
      else if (kind === "prep") {
        req.described = this.hooks.describeSource(req.source);
        answer = await api.preprocess(req.described.image);
      }
      else return await this.fetchQuality(req);
      if (!this.current(kind, req)) return;
      this.apply(kind, decodeTree(answer), req);
    } catch (err) {
      if (!this.current(kind, req)) return;
      this.asked[kind] = null; // the next change retries
      if (kind === "why") {
        state.teach.why.answer = null;
        this.showOverlay();
      }
      const text = err.status === 422 && /draw/i.test(err.message)
        ? "The pad looks empty: draw a digit."
        : `The server could not answer: ${err.message}`;
      this.panel(kind).placeholder(text);
    }
  }

  panel(kind) {
    return { why: this.why, im2col: this.im2col, prep: this.prep, robust: this.robust, quality: this.quality }[kind];
  }

  apply(kind, answer, req) {
    const t = state.teach;
    if (kind === "why") {
      t.why.answer = answer;
      t.why.engaged = true;
      this.why.show(answer, heatOf(answer), state.result ? state.result.input : null);
      this.showOverlay();
    } else if (kind === "im2col") {
      t.im2col.answer = answer;
      t.im2col.layer = answer.layer;
      this.im2col.show(answer);
    } else if (kind === "robust") {
      t.robust.answer = answer;
      this.robust.show(answer);
    } else if (kind === "prep") {
      t.prep.answer = answer;
      this.prep.show(answer, req.described.note);
    }
  }

  async fetchQuality(req) {
    const t = state.teach;
    const detail = await api.getModel(req.model);
    // Ask for the gallery only when the model has one, so a missing file logs no failed request.
    const mistakes = detail.has_misclassified
      ? await api.getMisclassified(req.model).catch((err) => {
        if (err.status === 404) return { missing: err.message };
        throw err;
      })
      : { missing: `run cnnvis misclassified ${req.model} to make one` };
    if (!this.current("quality", req)) return;
    t.quality.detail = detail;
    this.quality.showDetail(detail);
    if (mistakes.missing) {
      t.quality.mistakes = null;
      this.mistakesMessage = `No gallery of mistakes ships with this model (${mistakes.missing}).`;
    } else {
      t.quality.mistakes = {
        test_size: mistakes.test_size,
        digits: mistakes.digits.map((d) => ({ ...d, pixels: decodeSample(d) })),
      };
      this.mistakesMessage = "";
    }
    this.quality.showMistakes(t.quality.mistakes, t.quality.filter, this.mistakesMessage);
  }
}
