/* Convolution filters before and after training, side by side (Saito ch. 7.6), and their
   difference: one small canvas per kernel at data resolution, blue negative and warm positive,
   each kernel scaled to its own largest weight (as the book's per-image imshow does). */

import { lutIndex, paintIndices } from "./colormap.js";
import { fmt } from "./format.js";
import { isConv } from "./geometry.js";
import { pictureOf } from "./paint.js";

const KERNEL_CSS = 44;
const STATES = [
  ["initial", "random start"],
  ["trained", "after training"],
];
const BLOCKS = [...STATES, ["change", "what training changed (trained − start)"]];

export class FiltersPanel {
  /**
   * @param {{el, select, channel, channelWrap}} dom
   * @param {(layer, state) => Promise<{shape, values}>} load decoded filters of the current model
   */
  constructor(dom, load) {
    this.dom = dom;
    this.load = load;
    this.token = 0;
    dom.select.addEventListener("change", () => this.show());
    dom.channel.addEventListener("input", () => this.paint());
  }

  /** A new model: list its conv layers and show the first. */
  setModel(model) {
    const convs = model.layers.filter(isConv);
    this.dom.select.replaceChildren(...convs.map((l) => {
      const o = document.createElement("option");
      o.value = l.name;
      o.textContent = `${l.name} (${l.output_shape[0]} × ${l.window.kernel}×${l.window.kernel})`;
      return o;
    }));
    this.dom.select.disabled = convs.length === 0;
    this.data = null;
    if (!convs.length) {
      this.message("This network has no convolution layers.");
      return;
    }
    this.show();
  }

  message(text) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = text;
    this.dom.el.replaceChildren(p);
  }

  async show() {
    const layer = this.dom.select.value;
    const token = ++this.token;
    this.message("loading filters…");
    try {
      const [initial, trained] = await Promise.all(STATES.map(([s]) => this.load(layer, s)));
      if (token !== this.token) return;
      const change = { shape: trained.shape, values: trained.values.map((v, i) => v - initial.values[i]) };
      this.data = { layer, initial, trained, change };
      const inChannels = trained.shape[1];
      this.dom.channelWrap.hidden = inChannels <= 1;
      this.dom.channel.max = String(inChannels - 1);
      if (Number(this.dom.channel.value) > inChannels - 1) this.dom.channel.value = "0";
      this.paint();
    } catch (err) {
      if (token === this.token) this.message(`Filters unavailable: ${err.message}`);
    }
  }

  paint() {
    if (!this.data) return;
    const [F, C, KH, KW] = this.data.trained.shape;
    const c = Math.max(0, Math.min(C - 1, Number(this.dom.channel.value) || 0));
    const zoom = Math.max(2, Math.floor(KERNEL_CSS / Math.max(KH, KW)));
    const blocks = BLOCKS.map(([key, title]) => {
      const arr = this.data[key];
      let maxAbs = 0;
      for (let f = 0; f < F; f++) {
        for (let k = 0; k < KH * KW; k++) maxAbs = Math.max(maxAbs, Math.abs(arr.values[(f * C + c) * KH * KW + k]));
      }
      const block = document.createElement("figure");
      block.className = `filter-block ${key}`;
      const cap = document.createElement("figcaption");
      cap.textContent = `${title} · |w| ≤ ${fmt(maxAbs)}`;
      const grid = document.createElement("div");
      grid.className = "filter-grid";
      grid.style.gridTemplateColumns = `repeat(${Math.min(F, Math.ceil(Math.sqrt(F * 1.6)))}, auto)`;
      for (let f = 0; f < F; f++) {
        const base = (f * C + c) * KH * KW;
        let own = 0;
        for (let k = 0; k < KH * KW; k++) own = Math.max(own, Math.abs(arr.values[base + k]));
        const idx = new Uint8Array(KH * KW);
        for (let k = 0; k < KH * KW; k++) {
          idx[k] = lutIndex(own > 0 ? arr.values[base + k] / own : 0);
        }
        const cv = document.createElement("canvas");
        paintIndices(cv, idx, KW, KH);
        const kernel = pictureOf(cv, "kernel"); // an image: a canvas each would be a layer each
        kernel.style.width = `${KW * zoom}px`;
        kernel.style.height = `${KH * zoom}px`;
        kernel.title = `${this.data.layer} filter ${f}${C > 1 ? `, input channel ${c}` : ""}`;
        grid.appendChild(kernel);
      }
      block.append(cap, grid);
      return block;
    });
    this.dom.el.replaceChildren(...blocks);
  }
}
