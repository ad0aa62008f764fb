/* The unit panel: layer, channel, position, value and the arithmetic that produced it, from an
   explainUnit() or explainExact() result (explain.js). Only renders; numbers are never
   recomputed here. */

import { css, inkOn } from "./colormap.js";
import { el } from "./dom.js";
import { currentDataset, noun } from "./datasets.js";
import { decimalsAddingUp, fixed, fmt, pct } from "./format.js";
import { poolReduce } from "./geometry.js";
import { unitLabel } from "./netmodel.js";

const ACT_NAME = { relu: "ReLU", tanh: "tanh", sigmoid: "sigmoid", lrn: "LRN", dropout: "dropout", flatten: "flatten" };
const ACT_NOTE = {
  relu: "max(0, z)",
  tanh: "scaled tanh",
  sigmoid: "1 / (1 + e^−z)",
  lrn: "normalised by neighbouring channels",
  dropout: "identity at inference",
  flatten: "the same values as one vector",
};

export class InspectPanel {
  /** @param {{panel, title, body, close}} dom  @param {() => void} onClose */
  constructor(dom, onClose) {
    this.dom = dom;
    this.channel = null;
    this.onToggle = null; // told (open) when the panel opens or closes
    dom.close.addEventListener("click", onClose);
    // what the unit responds to (unitmeaning.js), kept apart from the arithmetic above it; both
    // scroll together below the panel's head, so neither is squeezed by the other
    this.meaning = el("div", { className: "unit-meaning" });
    const scroll = el("div", { className: "inspect-scroll" });
    dom.body.before(scroll);
    scroll.append(dom.body, this.meaning);
  }

  /** Show `node` (or nothing) as what the unit responds to. */
  setMeaning(node) {
    this.meaning.replaceChildren(...(node ? [node] : []));
  }

  get open() {
    return !this.dom.panel.hidden;
  }

  hide() {
    const was = this.open;
    this.dom.panel.hidden = true;
    if (was) this.onToggle?.(false);
    this.key = null;
    this.setMeaning(null);
  }

  /**
   * Show unit `index` of `group` with its explanation `ex` (plus `ex.shade`, its colour as a
   * signed value in [-1, 1]); `pending` names what is still loading (the unit's exact values).
   */
  show(group, index, ex, pending) {
    const key = `${group.id}/${index}`;
    if (key !== this.key) this.channel = null;
    this.key = key;
    const was = this.open;
    this.dom.panel.hidden = false;
    this.dom.title.textContent = unitLabel(group, index);
    const parts = [this.summary(group, ex)];
    if (pending) parts.push(el("p", { className: "muted" }, `loading ${pending}…`));
    else parts.push(...this.computation(group, ex));
    this.dom.panel.dataset.exact = ex.exact && !pending ? "1" : "0";
    this.dom.body.replaceChildren(...parts);
    if (!was) this.onToggle?.(true);
  }

  summary(group, ex) {
    const value = ex.value;
    const rows = [["layer", `${group.title} (${group.kind})`]];
    if (ex.coords.channel !== null && group.kind !== "input") rows.push(["map", String(ex.coords.channel)]);
    if (ex.coords.y !== null) rows.push(["position", `row ${ex.coords.y}, col ${ex.coords.x}`]);
    const box = el("div", { className: "unit-value" },
      el("span", { className: "swatch", style: { background: css(ex.shade ?? 0) } }),
      el("span", { className: "big-number" }, fmt(value)),
      ex.probability !== undefined ? el("span", { className: "prob-chip" }, `p = ${pct(ex.probability)}`) : null);
    return el("div", { className: "unit-summary" }, box,
      el("dl", {}, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])));
  }

  computation(group, ex) {
    switch (group.head.role) {
      case "input": return [el("p", { className: "explain" }, inputText(currentDataset()))];
      case "weighted": return group.head.window ? this.conv(group, ex) : this.dense(ex);
      case "pooling": return this.pool(group, ex);
      default: return this.elementwise(group, ex);
    }
  }

  conv(group, ex) {
    if (!ex.channels) return [];
    const { stride, padding } = group.head.window;
    const shown = ex.channels.find((c) => c.c === this.channel) || ex.channels[0];
    const k = ex.k;
    const products = shown.patch.map((x, i) => (Number.isNaN(x) ? NaN : x * shown.kernel[i]));
    const rows = `rows ${ex.rowStart}–${ex.rowStart + k - 1}, cols ${ex.colStart}–${ex.colStart + k - 1}`;
    const out = [
      el("p", { className: "explain" },
        `A ${k}×${k} kernel slides over ${ex.prevTitle} with stride ${stride}` +
        (padding ? ` and ${padding} pixel${padding > 1 ? "s" : ""} of zero padding` : "") +
        `; this unit is the weighted sum of ${ex.terms} inputs plus a bias.`),
    ];
    if (ex.inChannels > 1) {
      const maxAbs = Math.max(...ex.channels.map((c) => Math.abs(c.sum)), 1e-12);
      out.push(el("div", { className: "channel-list" },
        el("div", { className: "mat-title" }, `largest of ${ex.inChannels} input channels (click one)`),
        ex.channels.map((c) => el("button", {
          type: "button",
          className: `contrib${c === shown ? " active" : ""}`,
          onclick: () => { this.channel = c.c; this.refresh(); },
        }, el("span", { className: "contrib-name" }, `ch ${c.c}`), bar(c.sum / maxAbs), el("span", { className: "num" }, fmt(c.sum))))));
    }
    out.push(el("div", { className: "calc" },
      matrix(`input ${ex.inChannels > 1 ? `ch ${shown.c}, ` : ""}${rows}`, shown.patch, k),
      el("div", { className: "op" }, "⊙"),
      matrix(`${group.head.name}.weight[${ex.coords.channel}${ex.inChannels > 1 ? `, ${shown.c}` : ""}]`, shown.kernel, k)));
    out.push(el("div", { className: "calc" },
      el("div", { className: "op" }, "="),
      matrix("w · x, element by element", products, k)));
    out.push(equation([
      ["Σ w·x", ex.sum],
      ["+ b", ex.bias],
      ["= z", ex.z, ex.headValue],
    ], ex.exact));
    out.push(...this.chain(ex));
    out.push(footnote(ex.exact));
    return out;
  }

  refresh() {
    if (this.onRefresh) this.onRefresh();
  }

  pool(group, ex) {
    if (!ex.cells) return [];
    const { kernel, stride } = group.head.window;
    const max = poolReduce(group.head) === "max";
    return [
      el("p", { className: "explain" },
        `${max ? "Max" : "Average"} pooling: a ${kernel}×${kernel} window with stride ` +
        `${stride} over the same map of ${ex.prevTitle}` + (max ? "; the largest input wins." : "; the mean passes on.")),
      el("div", { className: "calc" },
        matrix(`window: rows ${ex.rowStart}–${ex.rowStart + ex.k - 1}, cols ${ex.colStart}–${ex.colStart + ex.k - 1}`,
          ex.cells, ex.k, ex.winner)),
      equation([[max ? "max" : "mean", ex.pooled, ex.headValue]], ex.exact),
      ...this.chain(ex),
      footnote(ex.exact),
    ];
  }

  dense(ex) {
    if (!ex.top) return [];
    const maxAbs = Math.max(...ex.top.map((t) => Math.abs(t.c)), 1e-12);
    const where = (t) => (t.where.channel !== null
      ? `map ${t.where.channel} (${t.where.y}, ${t.where.x})` : `unit ${t.i}`);
    return [
      el("p", { className: "explain" },
        `Fully connected: every one of the ${ex.fanIn} outputs of ${ex.prevTitle} feeds this unit ` +
        `through its own weight (${ex.active} of them are non-zero for your ${noun()}). ` +
        "The largest contributions w·x:"),
      el("table", { className: "contrib-table" },
        el("thead", {}, el("tr", {}, ["input", "x", "w", "w·x", ""].map((t) => el("th", {}, t)))),
        el("tbody", {}, ex.top.map((t) => el("tr", {},
          el("td", {}, where(t)), el("td", { className: "num" }, fmt(t.x)), el("td", { className: "num" }, fmt(t.w)),
          el("td", { className: "num" }, fmt(t.c)), el("td", {}, bar(t.c / maxAbs)))))),
      equation([
        [`top ${ex.top.length}`, ex.sum - ex.rest],
        [`+ other ${ex.fanIn - ex.top.length}`, ex.rest],
        ["+ b", ex.bias],
        ["= z", ex.z, ex.headValue],
      ], ex.exact),
      ...this.chain(ex),
      ...(ex.probability !== undefined
        ? [el("div", { className: "eq" }, el("span", { className: "eq-op" }, "softmax →"), el("strong", {}, pct(ex.probability)))]
        : []),
      footnote(ex.exact),
    ];
  }

  elementwise(group, ex) {
    const name = ACT_NAME[group.kind] || group.kind;
    return [
      el("p", { className: "explain" }, `${name} applied to the same unit of ${ex.prevTitle}: ${ACT_NOTE[group.kind] || ""}.`),
      equation([["input", ex.inputValue], [`→ ${name}`, ex.headValue]]),
      ...this.chain(ex),
      footnote(ex.exact),
    ];
  }

  chain(ex) {
    return ex.chain.map((c) => el("div", { className: "eq" },
      el("span", { className: "eq-op" }, `→ ${ACT_NAME[c.kind] || c.kind}`),
      el("strong", {}, fmt(c.value)),
      el("span", { className: "muted" }, ` ${c.name}: ${ACT_NOTE[c.kind] || ""}`)));
  }
}

function bar(signed) {
  const w = Math.min(1, Math.abs(signed)) * 50;
  return el("span", { className: "cbar" }, el("i", {
    style: {
      width: `${w}%`, left: signed < 0 ? `${50 - w}%` : "50%", background: css(Math.sign(signed) * 0.75),
    },
  }));
}

function matrix(title, values, k, winner = -1) {
  let maxAbs = 0;
  for (const v of values) if (!Number.isNaN(v)) maxAbs = Math.max(maxAbs, Math.abs(v));
  const numbers = k <= 5;
  const rows = [];
  for (let y = 0; y < k; y++) {
    const cells = [];
    for (let x = 0; x < k; x++) {
      const v = values[y * k + x];
      const pad = Number.isNaN(v);
      const s = pad || maxAbs === 0 ? 0 : v / maxAbs;
      cells.push(el("td", {
        className: `${pad ? "pad" : ""}${y * k + x === winner ? " winner" : ""}`,
        style: pad ? {} : { background: css(s), color: inkOn(s) },
        title: pad ? "zero padding" : fmt(v),
      }, pad ? "·" : numbers ? short(v) : ""));
    }
    rows.push(el("tr", {}, cells));
  }
  return el("div", { className: "mat-wrap" }, el("div", { className: "mat-title" }, title),
    el("table", { className: `mat k${Math.min(k, 9)}` }, el("tbody", {}, rows)));
}

/** What one input pixel is, as the dataset `ds` prepares a drawing (model/preprocess.py). */
function inputText(ds) {
  const how = ds.preprocessing === "fill"
    ? `cropped to its ink and scaled to fill the frame, as ${ds.title}'s images are`
    : `cropped, scaled to 20×20 and centred by its centre of mass, as ${ds.title} ${ds.plural} are`;
  return `One pixel of the 28×28 image the network saw: your drawing ${how}. 0 is paper, 1 is ink.`;
}

function short(v) {
  if (Math.abs(v) < 0.005) return "0";
  const a = Math.abs(v);
  const s = a >= 10 ? v.toFixed(0) : a >= 1 ? v.toFixed(1) : v.toFixed(2).replace(/^(-?)0\./, "$1.");
  return s.replace("-", "−");
}

/** Labelled numbers in a row; an exact sum (the last term is the total of the others) is shown
    with as many decimals as it takes for the shown numbers to add up. */
function equation(terms, exactSum = false) {
  const decimals = exactSum && terms.length > 1
    ? decimalsAddingUp(terms.slice(0, -1).map((t) => t[1]), terms[terms.length - 1][1]) : null;
  return el("div", { className: "eq" }, terms.map(([label, value, server]) => [
    el("span", { className: "eq-op" }, label),
    el("strong", { dataset: { value: String(value) } }, decimals === null ? fmt(value) : fixed(value, decimals)),
    !exactSum && server !== undefined && Number.isFinite(server)
      ? el("span", {
        className: "muted server",
        title: "the value the server computed (sent to the page as 8 bits)",
        dataset: { value: String(server) },
      }, `(server ${fmt(server)})`) : null,
  ]));
}

function footnote(exact) {
  if (exact) {
    return el("p", { className: "footnote muted" },
      "Exact float32 values of this unit from the server's layer-by-layer pass (the maps and " +
      "the 3D view show each layer in 8-bit steps of its range).");
  }
  return el("p", { className: "footnote muted" },
    "Each layer's outputs reach the page as 8-bit steps of its own range and weights as " +
    "float16, so numbers recomputed here can differ from the server's in the last digits.");
}
