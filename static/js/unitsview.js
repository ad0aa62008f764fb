/* The "units" view (issue 16): every unit of one layer at a glance, DeepVis-style (Yosinski et
   al. 2015): its ideal input where the server ships one (first conv layer, outputs), else its
   best test image with the receptive field where it peaked; click one to inspect it. "Which
   matter most" switches each unit off alone for your drawing (one batched request) and sorts them. */

import * as api from "./api.js";
import { decodeTree } from "./codec.js";
import { aClass, className, noun } from "./datasets.js";
import { el } from "./dom.js";
import { unitLayerOf } from "./geometry.js";
import { paintGray } from "./paint.js";

const SIDE = 28;

/** A data URL's image, decoded. */
function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the layer's best test images could not be decoded"));
    img.src = url;
  });
}

/** A probability change in percentage points, to two significant digits (a confident answer
    moves by hundredths of a point). */
const points = (drop) => {
  const p = Math.abs(drop * 100);
  return p >= 10 || p === 0 ? p.toFixed(0) : p.toPrecision(2);
};

class UnitsPanel {
  /** @param {{layer, rank, body, note}} dom @param {{onLayer, onRank, onPick}} handlers */
  constructor(dom, handlers) {
    this.dom = dom;
    this.h = handlers;
    dom.layer.addEventListener("change", () => handlers.onLayer(dom.layer.value));
    dom.rank.addEventListener("click", () => handlers.onRank());
  }

  /** The layers with units: convolutions, pooling and dense layers. */
  setModel(model, selected) {
    const usable = model.layers.filter((l) => unitLayerOf(model.layers, l.name) === l.name);
    this.dom.layer.replaceChildren(...usable.map((l) => el("option", { value: l.name },
      `${l.name} (${l.output_shape[0]} ${l.output_shape.length === 3 ? "channels" : "units"})`)));
    if (selected) this.dom.layer.value = selected;
    return usable.map((l) => l.name);
  }

  placeholder(text) {
    this.dom.note.textContent = "";
    this.dom.body.replaceChildren(el("p", { className: "muted" }, text));
  }

  /** Paint {grid (decoded layer answer), rank (or null), sprite (an Image)}. */
  show({ grid, rank, sprite }, ranking) {
    this.dom.rank.setAttribute("aria-pressed", String(ranking));
    this.dom.rank.classList.toggle("active", ranking);
    const drops = new Map((rank?.units || []).map((u) => [u.index, { ...u, target: rank.target }]));
    const order = rank ? rank.units.map((u) => u.index) : grid.units.map((u) => u.index);
    const biggest = rank ? Math.max(1e-9, ...rank.units.map((u) => Math.abs(u.drop))) : 1;
    const cells = order.map((i) => this.cell(grid, grid.units[i], sprite, drops.get(i), biggest));
    const shipped = grid.units.some((u) => u.optimal);
    this.dom.note.textContent = `${grid.count} ${grid.spatial ? "channels" : "units"} of ${grid.layer}: ` +
      (shipped ? `each one's ideal input (hover: its best test ${noun()})` : `each one's best test ${noun()}` +
        (grid.spatial ? ", the box is what the channel sees where it peaked" : "")) +
      (rank ? `; sorted by how many points p(${className(rank.target)}) falls without it` : "") + ". Click one to inspect it.";
    this.dom.body.replaceChildren(el("div", { className: "units-grid", id: "units-grid" }, cells));
  }

  cell(grid, unit, sprite, ranked, biggest) {
    const canvas = el("canvas", { className: "units-img", width: SIDE, height: SIDE });
    const best = unit.top[0];
    const digit = () => {
      const ctx = canvas.getContext("2d");
      const col = unit.index % grid.sprite.columns;
      const row = Math.floor(unit.index / grid.sprite.columns);
      ctx.drawImage(sprite, col * SIDE, row * SIDE, SIDE, SIDE, 0, 0, SIDE, SIDE);
      if (grid.spatial) {
        const [y0, x0, y1, x1] = best.box;
        ctx.strokeStyle = "#f89c3a";
        ctx.lineWidth = 1;
        ctx.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
      }
    };
    const ideal = () => paintGray(canvas, unit.optimal.values, SIDE, SIDE);
    if (unit.optimal) ideal();
    else digit();
    const bar = ranked ? el("span", { className: "units-drop" }, el("i", {
      style: { width: `${(Math.abs(ranked.drop) / biggest) * 100}%` },
      className: ranked.drop < 0 ? "neg" : "",
    })) : null;
    return el("button", {
      type: "button", className: "units-cell", dataset: { unit: String(unit.index) },
      title: `${grid.layer} ${grid.spatial ? "channel" : "unit"} ${unit.index}: best test ${noun()} ${aClass(best.label)} ` +
        `(score ${best.score.toFixed(2)})` +
        (ranked ? `; without it p(${className(ranked.target)}) = ${(ranked.probability * 100).toFixed(2)} %` : ""),
      onclick: () => this.h.onPick(grid.layer, unit.index),
      onmouseenter: unit.optimal ? digit : null,
      onmouseleave: unit.optimal ? ideal : null,
    }, canvas, el("span", { className: "units-label" }, ranked
      ? `${unit.index} · ${ranked.drop >= 0 ? "−" : "+"}${points(ranked.drop)}`
      : String(unit.index)), bar);
  }
}

export const unitsView = {
  id: "units",
  follows: ["model", "source"],
  settings: () => ({ layer: null, rank: false }),

  create(ctx) {
    const $ = (id) => document.getElementById(id);
    return new UnitsPanel({ layer: $("units-layer"), rank: $("units-rank"), body: $("units-body"), note: $("units-note") }, {
      onLayer: (name) => {
        ctx.settings.layer = name;
        ctx.refresh();
      },
      onRank: () => {
        ctx.settings.rank = !ctx.settings.rank;
        ctx.refresh();
      },
      onPick: (layer, index) => ctx.hooks.inspectUnit(layer, index),
    });
  },

  modelChanged(ctx, model) {
    const s = ctx.settings;
    const usable = ctx.painter.setModel(model, s.layer);
    if (!usable.includes(s.layer)) s.layer = usable[0] || null;
    ctx.painter.dom.layer.value = s.layer || "";
  },

  request: (ctx) => ({ layer: ctx.settings.layer, rank: ctx.settings.rank }),

  async ask(ctx, req) {
    const { layer, rank } = req.options;
    const answer = await api.getUnitLayer(req.model, layer);
    const grid = { ...answer, units: answer.units.map(decodeTree) }; // each one's ideal input
    const [ranked, sprite] = await Promise.all([
      rank ? api.rankUnits(req.model, req.source, layer) : null,
      loadImage(`data:image/png;base64,${grid.sprite.data}`)]);
    return { grid, rank: ranked, sprite };
  },

  apply(ctx, answer) {
    ctx.painter.show(answer, ctx.settings.rank);
  },
};
