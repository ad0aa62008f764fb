/* Convolution as one matrix product (Saito ch. 7.4): the layer's input, its im2col matrix
   (one row per output position, one column per input value a kernel reads), the filters as a
   matrix, their product and its reshape into feature maps; pooling as a window matrix with its
   argmax winners. Hovering an output unit lights its row, its receptive field and its entry.
   Paints an /api/im2col answer; no arithmetic beyond the one dot product it spells out. */

import * as api from "./api.js";
import { decodeTree } from "./codec.js";
import { el } from "./dom.js";
import { fmt } from "./format.js";
import { clamp } from "./geometry.js";
import { layered } from "./marks.js";
import { maxAbs, paintMask, paintSigned } from "./paint.js";

const WINDOW_WORD = { conv: "convolution", maxpool: "max pooling", avgpool: "average pooling" };
const SCROLL_H = 560; // CSS height of the matrices' scroll box
const TILES_CSS = 300; // about the CSS width of a grid of feature maps

/** CSS pixels per data row of an R-row matrix: tall ones scroll, short ones stay legible. */
const rowPx = (rows) => clamp(Math.floor(1200 / rows), 1, 8);
const colPx = (cols, width) => clamp(Math.floor(width / cols), 2, 12);

class Im2colPanel {
  /**
   * @param {{layer: HTMLSelectElement, body: HTMLElement}} dom
   * @param {{onLayer: (name) => void}} handlers
   */
  constructor(dom, handlers) {
    this.dom = dom;
    this.a = null;
    dom.layer.addEventListener("change", () => handlers.onLayer(dom.layer.value));
  }

  /** The layers this view can show: convolutions and pooling. */
  setModel(model, selected) {
    const usable = model.layers.filter((l) => l.window !== null);
    this.dom.layer.replaceChildren(...usable.map((l) => el("option", { value: l.name },
      `${l.name} (${WINDOW_WORD[l.kind] || l.kind})`)));
    this.dom.layer.disabled = usable.length === 0;
    if (selected) this.dom.layer.value = selected;
    return usable.map((l) => l.name);
  }

  placeholder(text) {
    this.a = null;
    this.dom.body.replaceChildren(el("p", { className: "muted" }, text));
  }

  /** Paint a decoded /api/im2col answer (every array {shape, values}). */
  show(a) {
    this.a = a;
    this.dom.layer.value = a.layer;
    this.readout = el("div", { className: "im-readout", id: "im-readout" });
    this.dom.body.replaceChildren(a.conv ? this.buildConv(a) : this.buildPool(a), this.readout);
    // Start on the layer's most active unit, so the first picture shows something happening.
    const [F, OH, OW] = a.output.shape;
    let best = 0;
    for (let i = 1; i < a.output.values.length; i++) if (a.output.values[i] > a.output.values[best]) best = i;
    const f = Math.floor(best / (OH * OW));
    const rest = best - f * OH * OW;
    this.highlight(a.conv ? rest : best, a.conv ? Math.min(f, F - 1) : 0, true);
  }

  // ----- tiles of feature maps (input and output) -------------------------------------------

  tiles(shape, values, scale, id, title, onHover) {
    const [C, H, W] = shape;
    const per = Math.ceil(Math.sqrt(C));
    const zoom = clamp(Math.floor(Math.min(168, TILES_CSS / per) / Math.max(H, W)), 1, 8);
    const list = [];
    const grid = el("div", { className: "im-tiles", id });
    grid.style.gridTemplateColumns = `repeat(${Math.min(C, per)}, auto)`;
    for (let c = 0; c < C; c++) {
      const t = layered(W, H, W * zoom, H * zoom, `${title} ${c}`);
      t.el.title = `${title} ${c}`;
      paintSigned(t.canvas, values.subarray(c * H * W, (c + 1) * H * W), W, H, scale);
      if (onHover) hoverCells(t.el, W, H, (x, y) => onHover(c, y, x));
      grid.appendChild(t.el);
      list.push(t);
    }
    return { grid, list };
  }

  // ----- convolution ----------------------------------------------------------------------

  buildConv(a) {
    const [C, H, W] = a.input.shape;
    const [F, OH, OW] = a.output.shape;
    const K = a.kernel;
    const [R, D] = a.conv.cols.shape;
    const inScale = maxAbs(a.input.values);
    const outScale = maxAbs(a.conv.product.values);
    const wScale = maxAbs(a.conv.weight.values);
    const rp = rowPx(R);
    const cp = colPx(D, 220);
    const fp = colPx(F, 240);

    this.input = this.tiles(a.input.shape, a.input.values, inScale, "im-input", "input channel");
    const cols = layered(D, R, D * cp, R * rp, "the im2col matrix");
    cols.el.id = "im-cols";
    paintSigned(cols.canvas, a.conv.cols.values, D, R, inScale);
    const weightT = new Float32Array(D * F); // (C·KH·KW, F): the filters as columns
    for (let f = 0; f < F; f++) for (let j = 0; j < D; j++) weightT[j * F + f] = a.conv.weight.values[f * D + j];
    const wt = layered(F, D, F * fp, D * cp, "the filter matrix, transposed");
    wt.el.id = "im-weight";
    paintSigned(wt.canvas, weightT, F, D, wScale);
    const bias = layered(F, 1, F * fp, 8, "the biases");
    bias.el.id = "im-bias";
    paintSigned(bias.canvas, a.conv.bias.values, F, 1);
    const prod = layered(F, R, F * fp, R * rp, "the product");
    prod.el.id = "im-product";
    paintSigned(prod.canvas, a.conv.product.values, F, R, outScale);

    // The reshape: column f of the product is feature map f.
    const maps = new Float32Array(F * R);
    for (let r = 0; r < R; r++) for (let f = 0; f < F; f++) maps[f * R + r] = a.conv.product.values[r * F + f];
    let diff = 0;
    for (let i = 0; i < maps.length; i++) diff = Math.max(diff, Math.abs(maps[i] - a.output.values[i]));
    this.output = this.tiles(a.output.shape, maps, outScale, "im-output", `${a.layer} map`,
      (f, y, x) => this.highlight(y * OW + x, f, true));
    this.m = { cols, wt, bias, prod, R, D, F, K, OW, OH, C, H, W };

    hoverCells(prod.el, F, R, (f, r) => this.highlight(r, f, false));
    hoverCells(cols.el, D, R, (j, r) => this.highlight(r, this.f ?? 0, false));
    hoverCells(wt.el, F, D, (f) => this.highlight(this.r ?? 0, f, false));

    const formula = `${a.layer}: ${K}×${K} kernels, stride ${a.stride}, pad ${a.pad} → ` +
      `OH = (${H} + 2·${a.pad} − ${K}) / ${a.stride} + 1 = ${OH}`;
    this.scroll = scrollBox("the layer as matrices");
    this.scroll.style.maxHeight = `${SCROLL_H}px`;
    this.scroll.append(el("div", { className: "im-mm" },
      el("div", { className: "im-note" },
        el("strong", {}, "cols · Wᵀ + b"),
        el("span", { className: "muted" }, "each output value is one row of cols times one column of Wᵀ, plus that filter's bias")),
      el("figure", { className: "im-fig" },
        caption("Wᵀ", `${D} × ${F}`, "C·KH·KW × F", `${a.layer}.weight (${F}, ${C}, ${K}, ${K}) reshaped, transposed`), wt.el,
        caption("+ b", `${F}`, "F", `${a.layer}.bias`), bias.el),
      sticky(caption("cols = im2col(input)", `${R} × ${D}`, "OH·OW × C·KH·KW", "row r: the window of output position (r ÷ OW, r mod OW)")),
      sticky(caption("product", `${R} × ${F}`, "OH·OW × F", "row r, column f: output[f, r ÷ OW, r mod OW]")),
      cols.el, prod.el));

    return el("div", { className: "im-flow", id: "im2col-view", dataset: { kind: "conv" } },
      el("figure", { className: "im-fig" },
        caption("input", `${C} × ${H} × ${W}`, "C × H × W", a.layer === "conv1" ? "the 28×28 image" : "the previous layer's output"),
        this.input.grid),
      el("div", { className: "im-arrow" }, "im2col →"),
      el("div", { className: "im-mid" }, el("p", { className: "muted small" }, formula), this.scroll),
      el("div", { className: "im-arrow" }, "reshape →"),
      el("figure", { className: "im-fig" },
        caption("feature maps", `${F} × ${OH} × ${OW}`, "F × OH × OW",
          `product columns as maps; ${a.layer}'s own output differs by at most ${fmt(diff)} (8-bit transport)`),
        this.output.grid));
  }

  // ----- pooling --------------------------------------------------------------------------

  buildPool(a) {
    const [C, H, W] = a.input.shape;
    const [, OH, OW] = a.output.shape;
    const K = a.kernel;
    const [R, KK] = a.pool.windows.shape;
    const max = a.kind === "maxpool";
    const scale = maxAbs(a.input.values);
    const rp = rowPx(R);
    const cp = colPx(KK, 60);

    this.input = this.tiles(a.input.shape, a.input.values, scale, "im-input", "input channel");
    const windows = layered(KK, R, KK * cp, R * rp, "the window matrix");
    windows.el.id = "im-windows";
    paintSigned(windows.canvas, a.pool.windows.values, KK, R, scale);
    const pooled = layered(1, R, 16, R * rp, "each row's result");
    pooled.el.id = "im-pooled";
    paintSigned(pooled.canvas, a.output.values, 1, R, scale);
    let onehot = null;
    let winners = null;
    if (max && a.pool.argmax) {
      const mask = new Uint8Array(R * KK);
      for (let r = 0; r < R; r++) mask[r * KK + a.pool.argmax.values[r]] = 1;
      onehot = layered(KK, R, KK * cp, R * rp, "each window's winner");
      onehot.el.id = "im-argmax";
      paintMask(onehot.canvas, mask, KK, R);
      hoverCells(onehot.el, KK, R, (j, r) => this.highlight(r, 0, false));
    }
    if (max && a.pool.winners) {
      const [, WH, WW] = a.pool.winners.shape;
      const per = Math.ceil(Math.sqrt(C));
      const zoom = clamp(Math.floor(Math.min(168, TILES_CSS / per) / Math.max(WH, WW)), 1, 8);
      const grid = el("div", { className: "im-tiles", id: "im-winners" });
      grid.style.gridTemplateColumns = `repeat(${Math.min(C, per)}, auto)`;
      const list = [];
      for (let c = 0; c < C; c++) {
        const t = layered(WW, WH, WW * zoom, WH * zoom, `winners of channel ${c}`);
        paintMask(t.canvas, a.pool.winners.values.subarray(c * WH * WW, (c + 1) * WH * WW), WW, WH);
        grid.appendChild(t.el);
        list.push(t);
      }
      winners = { grid, list };
    }
    this.output = this.tiles(a.output.shape, a.output.values, scale, "im-output", `${a.layer} map`,
      (c, y, x) => this.highlight((c * OH + y) * OW + x, 0, true));
    this.winners = winners;
    this.m = { windows, onehot, pooled, R, KK, K, OW, OH, C, H, W };
    hoverCells(windows.el, KK, R, (j, r) => this.highlight(r, 0, false));
    hoverCells(pooled.el, 1, R, (j, r) => this.highlight(r, 0, false));

    this.scroll = scrollBox("the pooling windows as matrices");
    this.scroll.style.maxHeight = `${SCROLL_H}px`;
    const head = [caption("windows", `${R} × ${KK}`, "C·OH·OW × K·K", "row r: one window of one channel, read in row order")];
    const body = [windows.el];
    if (onehot) {
      head.push(caption("argmax", `${R} × ${KK}`, "one-hot",
        "the window's largest value (ties: the first), the only input its gradient flows back to"));
      body.push(onehot.el);
    }
    head.push(caption(max ? "max" : "mean", `${R}`, "C·OH·OW", "of each row"));
    body.push(pooled.el);
    const mm = el("div", { className: "im-mm pool" }, ...head.map(sticky), ...body);
    mm.style.gridTemplateColumns = `repeat(${head.length}, auto)`;
    this.scroll.append(mm);

    const formula = `${a.layer}: ${max ? "max" : "average"} of each ${K}×${K} window, stride ${a.stride} → ` +
      `OH = (${H} + 2·${a.pad} − ${K}) / ${a.stride} + 1 = ${OH}`;
    return el("div", { className: "im-flow", id: "im2col-view", dataset: { kind: a.kind } },
      el("figure", { className: "im-fig" },
        caption("input", `${C} × ${H} × ${W}`, "C × H × W", "the previous layer's output"), this.input.grid,
        winners ? caption("winner map", `${C} × ${H} × ${W}`, "1 = wins a window",
          "where max pooling's gradient goes; in blank windows the first unit wins the tie") : null,
        winners ? winners.grid : null),
      el("div", { className: "im-arrow" }, "windows →"),
      el("div", { className: "im-mid" }, el("p", { className: "muted small" }, formula), this.scroll),
      el("div", { className: "im-arrow" }, "reshape →"),
      el("figure", { className: "im-fig" },
        caption("pooled maps", `${C} × ${OH} × ${OW}`, "C × OH × OW", `${a.layer}'s output`), this.output.grid));
  }

  // ----- hover ------------------------------------------------------------------------------

  /**
   * Light output unit (row `r`, filter `f`): its row of the matrices, its receptive field in the
   * input and its entry in the product; `follow` scrolls the matrices to the row.
   */
  highlight(r, f, follow) {
    const a = this.a;
    const m = this.m;
    if (!a || !m || r < 0 || r >= m.R) return;
    this.r = r;
    this.f = f;
    const conv = Boolean(a.conv);
    const c = conv ? null : Math.floor(r / (m.OH * m.OW));
    const rest = conv ? r : r - c * m.OH * m.OW;
    const y = Math.floor(rest / m.OW);
    const x = rest % m.OW;
    const top = y * a.stride - a.pad;
    const left = x * a.stride - a.pad;
    this.input.list.forEach((t, k) => {
      if (conv || k === c) t.marks.rect("rf", left, top, m.K, m.K, "mark-box");
      else t.marks.clear();
    });
    const unit = conv ? f : c;
    this.output.list.forEach((t, k) => {
      if (k === unit) t.marks.rect("unit", x, y, 1, 1, "mark-cell");
      else t.marks.clear();
    });
    this.dom.body.querySelector("#im2col-view").dataset.row = String(r);
    if (conv) {
      m.cols.marks.rect("row", 0, r, m.D, 1, "mark-row");
      m.prod.marks.rect("row", 0, r, m.F, 1, "mark-row");
      m.prod.marks.rect("col", f, 0, 1, m.R, "mark-col");
      m.prod.marks.rect("cell", f, r, 1, 1, "mark-cell");
      m.wt.marks.rect("col", f, 0, 1, m.D, "mark-col");
      m.bias.marks.rect("cell", f, 0, 1, 1, "mark-cell");
      this.convReadout(r, f, y, x);
    } else {
      for (const mat of [m.windows, m.onehot, m.pooled]) {
        if (mat) mat.marks.rect("row", 0, r, mat === m.pooled ? 1 : m.KK, 1, "mark-row");
      }
      const win = a.pool.argmax ? a.pool.argmax.values[r] : -1;
      if (win >= 0) {
        m.windows.marks.rect("cell", win, r, 1, 1, "mark-cell");
        const wy = top + Math.floor(win / m.K);
        const wx = left + (win % m.K);
        this.input.list[c].marks.rect("win", wx, wy, 1, 1, "mark-cell");
      }
      if (this.winners) {
        this.winners.list.forEach((t, k) => {
          if (k === c) t.marks.rect("rf", left, top, m.K, m.K, "mark-box");
          else t.marks.clear();
        });
      }
      this.poolReadout(r, c, y, x, win);
    }
    if (follow) {
      const mat = (conv ? m.cols : m.windows).el; // its offsetParent is the scroll box
      const yPx = mat.offsetTop + ((r + 0.5) * mat.offsetHeight) / m.R;
      const box = this.scroll;
      if (yPx < box.scrollTop + 20 || yPx > box.scrollTop + box.clientHeight - 20) {
        box.scrollTop = yPx - box.clientHeight / 2;
      }
    }
  }

  convReadout(r, f, y, x) {
    const a = this.a;
    const { D, F } = this.m;
    const row = a.conv.cols.values.subarray(r * D, (r + 1) * D);
    const w = a.conv.weight.values.subarray(f * D, (f + 1) * D);
    const products = new Float32Array(D);
    let sum = 0;
    for (let j = 0; j < D; j++) {
      products[j] = row[j] * w[j];
      sum += products[j];
    }
    const b = a.conv.bias.values[f];
    const strip = (values, label, scale) => {
      const cv = document.createElement("canvas");
      cv.className = "im-strip";
      cv.style.width = `${Math.min(360, Math.max(120, D * 6))}px`;
      paintSigned(cv, values, D, 1, scale);
      return el("div", { className: "im-strip-row" }, el("span", { className: "muted" }, label), cv);
    };
    this.readout.replaceChildren(
      el("div", {},
        el("strong", {}, `output[${f}, ${y}, ${x}]`),
        ` = row ${r} of cols · column ${f} of Wᵀ + b[${f}]`),
      strip(row, `cols row ${r}`, maxAbs(a.input.values)),
      strip(w, `Wᵀ column ${f}`, maxAbs(a.conv.weight.values)),
      strip(products, "products", maxAbs(products)),
      el("div", { className: "eq" },
        el("span", { className: "eq-op" }, "Σ"), el("strong", {}, fmt(sum)),
        el("span", { className: "eq-op" }, "+ b"), el("strong", {}, fmt(b)),
        el("span", { className: "eq-op" }, "="), el("strong", { dataset: { value: String(sum + b) } }, fmt(sum + b)),
        el("span", { className: "muted" }, `product[${r}, ${f}] = ${fmt(a.conv.product.values[r * F + f])}`)));
  }

  poolReadout(r, c, y, x, win) {
    const a = this.a;
    const { KK } = this.m;
    const row = Array.from(a.pool.windows.values.subarray(r * KK, (r + 1) * KK), fmt);
    const result = a.output.values[r];
    const parts = [
      el("div", {},
        el("strong", {}, `output[${c}, ${y}, ${x}]`),
        ` = ${a.kind === "maxpool" ? "max" : "mean"} of row ${r} of the window matrix`),
      el("div", { className: "eq" },
        el("span", { className: "eq-op" }, `row ${r}:`),
        el("span", { className: "num" }, row.map((v, j) => (j === win ? `[${v}]` : v)).join("  ")),
        el("span", { className: "eq-op" }, "→"), el("strong", {}, fmt(result))),
    ];
    if (win >= 0) {
      parts.push(el("p", { className: "muted small" },
        `The winner is column ${win} (window offset ${Math.floor(win / this.m.K)}, ${win % this.m.K}); ` +
        "in training, only that input receives this unit's gradient."));
    }
    this.readout.replaceChildren(...parts);
  }
}

/** A matrix or image caption: name, shape in numbers and in symbols, and a note. */
function caption(name, shape, symbols, note) {
  return el("figcaption", { className: "im-cap" },
    el("span", {}, el("strong", {}, name), " ", el("span", { className: "im-shape" }, shape),
      el("span", { className: "muted" }, ` (${symbols})`)),
    note ? el("span", { className: "im-cap-note" }, note) : null);
}

/** A caption that stays at the top of the scroll box while its matrix scrolls under it. */
function sticky(node) {
  node.classList.add("sticky");
  return node;
}

/** A scrolling box the keyboard can reach and scroll (a tab stop, named for screen readers). */
function scrollBox(label) {
  return el("div", { className: "im-scroll", tabIndex: 0, role: "region", "aria-label": `${label} (scrolls)` });
}

/** Report the data cell (x, y) under the pointer of a layered canvas of `w` × `h` cells. */
function hoverCells(node, w, h, onCell) {
  node.classList.add("hoverable");
  node.addEventListener("pointermove", (e) => {
    const r = node.getBoundingClientRect();
    const x = clamp(Math.floor(((e.clientX - r.left) / r.width) * w), 0, w - 1);
    const y = clamp(Math.floor(((e.clientY - r.top) / r.height) * h), 0, h - 1);
    onCell(x, y);
  });
}

export const im2colView = {
  id: "im2col",
  follows: ["model", "source"],
  settings: () => ({ layer: null }),

  create(ctx) {
    return new Im2colPanel({ layer: document.getElementById("im-layer"), body: document.getElementById("im-body") }, {
      onLayer: (name) => {
        ctx.settings.layer = name;
        ctx.refresh();
      },
    });
  },

  modelChanged(ctx, model) {
    const s = ctx.settings;
    const usable = ctx.painter.setModel(model, s.layer);
    if (!usable.includes(s.layer)) s.layer = usable[0] || null;
    ctx.painter.dom.layer.value = s.layer || "";
  },

  request: (ctx) => ({ layer: ctx.settings.layer }),

  ask: async (ctx, req) => decodeTree(await api.im2col(req.model, req.source, req.options.layer)),

  apply(ctx, answer) {
    ctx.settings.layer = answer.layer;
    ctx.painter.show(answer);
  },
};
