/* How good is the model, and where does it fail: training curves per epoch with the kept epoch
   marked, the test-set confusion matrix (a cell filters the gallery) and the misclassified test
   digits (a click loads one onto the pad). Paints GET /api/models/{name} and its mistakes. */

import * as api from "./api.js";
import { lineChart } from "./chart.js";
import { decodeSample } from "./codec.js";
import { el } from "./dom.js";
import { aClass, className, currentDataset } from "./datasets.js";
import { fmt, pct } from "./format.js";
import { grayImage } from "./paint.js";
import { rovingGrid } from "./roving.js";

const SERIES = [
  ["train", "#f89c3a", []],
  ["validation", "#5ab4f0", []],
  ["test", "#fff1a8", [5, 3]],
];
const LOSS_KEYS = ["loss", "val_loss", "test_loss"];
const ACC_KEYS = ["train_accuracy", "val_accuracy", "test_accuracy"];

class QualityPanel {
  /**
   * @param {{summary, loss, acc, legend, hover, confusion, gallery, galleryNote}} dom
   * @param {{onFilter: (cell | null) => void, onLoad: (digit) => void}} handlers cell is
   *   {label, predicted}; digit a decoded mistake {index, label, predicted, confidence, pixels}
   */
  constructor(dom, handlers) {
    this.dom = dom;
    this.h = handlers;
    this.detail = null;
    this.charts = {};
    dom.legend.replaceChildren(...SERIES.map(([name, color, dash]) =>
      el("span", { className: "legend-item" },
        el("i", { className: dash.length ? "dashed" : "", style: { borderColor: color } }), name)));
    for (const key of ["loss", "acc"]) {
      dom[key].addEventListener("pointermove", (e) => this.hoverEpoch(key, e.clientX));
      dom[key].addEventListener("pointerleave", () => this.hoverEpoch(null));
    }
  }

  placeholder(text) {
    this.detail = null;
    this.dom.summary.textContent = text;
    this.dom.confusion.replaceChildren();
    this.dom.gallery.replaceChildren();
    this.dom.galleryNote.textContent = "";
    for (const key of ["loss", "acc"]) this.dom[key].getContext("2d").clearRect(0, 0, this.dom[key].width, this.dom[key].height);
  }

  /** The model's detail: {name, test_accuracy, training, history, per_class_accuracy, confusion_matrix}. */
  showDetail(d) {
    this.detail = d;
    const t = d.training || {};
    const epochs = d.history.length;
    const parts = [
      d.test_accuracy != null ? `${(d.test_accuracy * 100).toFixed(2)}% of the 10,000 ${currentDataset().title} test ${currentDataset().plural} right` : null,
      epochs ? `${epochs} epochs of training` : "no training history recorded",
      t.selected_epoch != null ? `weights kept from epoch ${t.selected_epoch} (${t.config?.selection || "selected"})` : null,
      t.duration != null ? `${Math.round(t.duration / 60)} min` : null,
    ];
    this.dom.summary.textContent = `${d.name}: ${parts.filter(Boolean).join(" · ")}.`;
    this.paintCurves();
    this.paintConfusion();
  }

  /** Redraw the charts (their size follows the page). */
  paintCurves() {
    const d = this.detail;
    if (!d || !d.history.length || !this.dom.loss.clientWidth) return;
    const x = d.history.map((h) => h.epoch);
    const pick = (key) => d.history.map((h) => (typeof h[key] === "number" ? h[key] : null));
    const sel = d.training?.selected_epoch;
    const markers = sel != null ? [{ x: sel, label: `kept: epoch ${sel}` }] : [];
    const step = Math.max(1, Math.ceil(x.length / 10));
    const xTicks = x.filter((e, i) => i % step === 0 || i === x.length - 1);
    const series = (keys) => keys.map((k, i) => ({ values: pick(k), color: SERIES[i][1], dash: SERIES[i][2] }))
      .filter((s) => s.values.some((v) => v !== null));

    const losses = LOSS_KEYS.flatMap(pick).filter((v) => v !== null);
    const lossMax = niceCeil(Math.max(...losses, 1e-3));
    this.charts.loss = lineChart(this.dom.loss, {
      x, xTicks, series: series(LOSS_KEYS), yMin: 0, yMax: lossMax,
      yTicks: [0, lossMax / 4, lossMax / 2, (3 * lossMax) / 4, lossMax], yFormat: (v) => fmt(v), markers,
    });
    const accs = ACC_KEYS.flatMap(pick).filter((v) => v !== null);
    const { lo, ticks } = accuracyAxis(Math.min(...accs));
    this.charts.acc = lineChart(this.dom.acc, {
      x, xTicks, series: series(ACC_KEYS), yMin: lo, yMax: 1,
      yTicks: ticks, yFormat: (v) => `${(v * 100).toFixed(1)}%`, markers,
    });
  }

  hoverEpoch(key, clientX) {
    const d = this.detail;
    if (!key || !d || !this.charts[key]) {
      this.dom.hover.textContent = "hover a chart for one epoch's numbers";
      return;
    }
    const epoch = this.charts[key].xAt(clientX);
    const h = d.history.find((e) => e.epoch === epoch);
    if (!h) return;
    const p = (v) => (typeof v === "number" ? `${(v * 100).toFixed(2)}%` : "–");
    this.dom.hover.textContent = `epoch ${epoch}: loss ${fmt(h.loss)}` +
      (typeof h.val_loss === "number" ? ` (val ${fmt(h.val_loss)}, test ${fmt(h.test_loss)})` : "") +
      ` · accuracy train ${p(h.train_accuracy)}, val ${p(h.val_accuracy)}, test ${p(h.test_accuracy)}`;
  }

  paintConfusion() {
    const m = this.detail?.confusion_matrix;
    if (!m) {
      this.dom.confusion.replaceChildren(el("p", { className: "muted" }, "No confusion matrix recorded for this model."));
      return;
    }
    const per = this.detail.per_class_accuracy;
    let maxOff = 0;
    let maxDiag = 0;
    m.forEach((row, i) => row.forEach((n, j) => {
      if (i === j) maxDiag = Math.max(maxDiag, n);
      else maxOff = Math.max(maxOff, n);
    }));
    const f = this.filter;
    const head = el("tr", {}, el("th", { className: "cm-corner" }, "true ↓ · said →"),
      // long class names ("Ankle boot") are cut to five letters in the header, whole in its title
      ...m.map((_, j) => el("th", { scope: "col", title: className(j) }, className(j).slice(0, 5))),
      el("th", { scope: "col" }, "right"));
    const rows = m.map((row, i) => el("tr", {},
      el("th", { scope: "row" }, className(i)),
      ...row.map((n, j) => {
        const diag = i === j;
        const strength = diag ? n / (maxDiag || 1) : Math.log1p(n) / Math.log1p(maxOff || 1);
        const active = f && f.label === i && f.predicted === j;
        const cell = el(diag || !n ? "span" : "button", {
          className: `cm-cell${diag ? " diag" : ""}${n && !diag ? " err" : ""}${active ? " active" : ""}`,
          title: diag ? `${n} × ${className(i)} recognised` : `${n} × ${className(i)} taken for ${className(j)}`,
          dataset: { label: String(i), predicted: String(j) },
          style: n ? { background: diag ? `rgba(248, 156, 58, ${0.1 + 0.45 * strength})`
            : `rgba(255, 92, 122, ${0.18 + 0.72 * strength})` } : {},
          type: diag || !n ? undefined : "button",
          onclick: diag || !n ? undefined : () => this.h.onFilter(active ? null : { label: i, predicted: j }),
        }, String(n));
        return el("td", {}, cell);
      }),
      el("td", { className: "cm-acc num" }, per ? `${(per[i] * 100).toFixed(1)}%` : "")));
    this.dom.confusion.replaceChildren(el("table", { className: "confusion", id: "confusion" },
      el("thead", {}, head), el("tbody", {}, rows)));
  }

  /**
   * The misclassified gallery: `mistakes` {test_size, digits: decoded} or null with `message`;
   * `filter` {label, predicted} or null.
   */
  showMistakes(mistakes, filter, message) {
    this.mistakes = mistakes;
    this.filter = filter;
    if (this.detail) this.paintConfusion();
    if (!mistakes) {
      this.dom.galleryNote.textContent = message || "";
      this.dom.gallery.replaceChildren();
      return;
    }
    const shown = filter
      ? mistakes.digits.filter((d) => d.label === filter.label && d.predicted === filter.predicted)
      : mistakes.digits;
    const total = mistakes.digits.length;
    this.dom.galleryNote.replaceChildren(
      filter
        ? `${shown.length} ${filter.label}${shown.length === 1 ? "" : "s"} taken for ${filter.predicted} (of ${total} mistakes) · `
        : `${total} mistakes on ${mistakes.test_size.toLocaleString("en")} test ${currentDataset().plural}, most confident first · click one to load it`,
      filter ? el("button", { type: "button", className: "link-btn", onclick: () => this.h.onFilter(null) }, "show all") : "");
    this.dom.gallery.replaceChildren(...shown.map((d) => {
      return el("button", {
        type: "button", className: "mistake",
        title: `${currentDataset().title} test #${d.index}: ${aClass(d.label)}, taken for ${className(d.predicted)} (p = ${pct(d.confidence)})`,
        dataset: { index: String(d.index), label: String(d.label), predicted: String(d.predicted) },
        onclick: () => this.h.onLoad(d),
      }, grayImage(d.pixels, 28, 28, "sample-img"), el("span", { className: "mistake-cap" }, `${d.label}→${d.predicted}`,
        el("small", {}, pct(d.confidence))));
    }));
    rovingGrid(this.dom.gallery);
  }
}

/** An accuracy axis ending at 100% in at most five round steps, reaching down to `low`. */
function accuracyAxis(low) {
  const step = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25].find((s) => 1 - 5 * s <= low) ?? 0.25;
  const k = Math.max(1, Math.ceil((1 - low) / step - 1e-9));
  const lo = Math.max(0, 1 - k * step);
  return { lo, ticks: Array.from({ length: k + 1 }, (_, i) => lo + i * step) };
}

/** 1, 2 or 5 times a power of ten, at least `v`. */
function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((k) => k * p).find((c) => c >= v);
}

export const qualityView = {
  id: "quality",
  /** The training record belongs to the model, whatever is drawn. */
  follows: ["model"],
  /** filter: the confusion cell the gallery shows; message: why there is no gallery. */
  settings: () => ({ filter: null, mistakes: null, message: "" }),

  create(ctx) {
    const $ = (id) => document.getElementById(id);
    const q = ctx.settings;
    const painter = new QualityPanel({
      summary: $("quality-summary"), loss: $("curve-loss"), acc: $("curve-acc"), legend: $("curve-legend"),
      hover: $("curve-hover"), confusion: $("confusion-wrap"), gallery: $("mistakes"), galleryNote: $("mistakes-note"),
    }, {
      onFilter: (cell) => {
        q.filter = cell;
        painter.showMistakes(q.mistakes, cell, q.message);
      },
      onLoad: (d) => ctx.hooks.loadDigit(d.pixels,
        `${currentDataset().title} test image #${d.index}: ${aClass(d.label)} that ${ctx.page.modelName} took for ${className(d.predicted)} (p = ${(d.confidence * 100).toFixed(1)}%).`),
    });
    return painter;
  },

  shown: (ctx) => ctx.painter.paintCurves(),

  modelChanged(ctx) {
    Object.assign(ctx.settings, { filter: null, mistakes: null });
    ctx.painter.placeholder("Loading this model's training record…");
  },

  async ask(ctx, req) {
    const detail = await api.getModel(req.model);
    // Ask for the gallery only when the model has one, so a missing file logs no failed request.
    const mistakes = detail.has_misclassified
      ? await api.getMisclassified(req.model).catch((err) => {
        if (err.status === 404) return { missing: err.message };
        throw err;
      })
      : { missing: `run cnnvis misclassified ${req.model} to make one` };
    return { detail, mistakes };
  },

  apply(ctx, { detail, mistakes }) {
    const q = ctx.settings;
    ctx.painter.showDetail(detail);
    if (mistakes.missing) {
      q.mistakes = null;
      q.message = `No gallery of mistakes ships with this model (${mistakes.missing}).`;
    } else {
      q.mistakes = {
        test_size: mistakes.test_size,
        digits: mistakes.digits.map((d) => ({ ...d, pixels: decodeSample(d) })),
      };
      q.message = "";
    }
    ctx.painter.showMistakes(q.mistakes, q.filter, q.message);
  },
};
