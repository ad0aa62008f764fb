/* The flat panel: every layer's feature maps as small canvases at data resolution (scaled up by
   CSS, pixelated), vectors as strips. Clicking a map inspects its most active unit; each map of a
   conv or pooling layer has a switch that turns its channel off for the predictions (issue 16). */

import { paintIndices } from "./colormap.js";
import { classTag } from "./datasets.js";
import { fmt } from "./format.js";
import { layerSummary, shapeText } from "./netmodel.js";

const MAP_CSS = 56; // target CSS size of one map
const STRIP_CSS = 640;

export class MapsPanel {
  /**
   * @param {HTMLElement} el
   * @param {{onPick: (group, index) => void, switchable: (group) => string | null,
   *   isOff: (layer, channel) => boolean, onToggle: (layer, channel) => void}} handlers
   *   switchable: the layer whose channels a group's maps are (null: no switches)
   */
  constructor(el, handlers) {
    this.el = el;
    this.h = handlers;
    this.rows = [];
    this.display = null;
    // Off screen (the panel sits below the 3D view), the maps are painted only when they come
    // into view: every answer of a drawn stroke would otherwise repaint, re-raster and commit
    // hundreds of canvases nobody sees (issue 18: long tasks while drawing).
    this.inView = true;
    this.stale = false;
    if ("IntersectionObserver" in window) {
      new IntersectionObserver((entries) => {
        this.inView = entries.some((e) => e.isIntersecting);
        el.classList.toggle("asleep", !this.inView);
        if (this.inView && this.stale) this.paint();
      }, { rootMargin: "200px" }).observe(el);
    }
  }

  build(groups) {
    this.groups = groups;
    this.el.replaceChildren();
    this.rows = groups.map((g, gi) => {
      const row = document.createElement("section");
      row.className = "maps-row";
      row.dataset.members = g.members.join(" ");
      const head = document.createElement("header");
      head.className = "maps-head";
      const name = document.createElement("strong");
      name.textContent = g.title;
      const meta = document.createElement("span");
      meta.className = "muted";
      meta.textContent = `${shapeText(g.shape)} · ${layerSummary(g.head)}`;
      const range = document.createElement("span");
      range.className = "maps-range muted";
      head.append(name, meta, range);
      const body = document.createElement("div");
      body.className = g.isMaps ? "maps-grid" : "maps-strip";
      const canvases = [];
      const switches = [];
      const layer = g.isMaps ? this.h.switchable(g) : null;
      if (g.isMaps) {
        const [C, H, W] = g.shape;
        const zoom = Math.max(1, Math.floor(MAP_CSS / Math.max(H, W)));
        for (let c = 0; c < C; c++) {
          const cv = document.createElement("canvas");
          cv.width = W;
          cv.height = H;
          cv.className = "map";
          cv.style.width = `${W * zoom}px`;
          cv.style.height = `${H * zoom}px`;
          cv.title = `${g.title} map ${c}`;
          cv.addEventListener("click", () => this.pick(gi, c));
          if (layer) {
            const cell = document.createElement("span");
            cell.className = "map-cell";
            const off = document.createElement("button");
            off.type = "button";
            off.className = "map-off";
            off.textContent = "⏻";
            off.dataset.unit = `${layer}/${c}`;
            off.addEventListener("click", () => this.h.onToggle(layer, c));
            cell.append(cv, off);
            body.appendChild(cell);
            switches.push({ button: off, canvas: cv, layer, c });
          } else {
            body.appendChild(cv);
          }
          canvases.push(cv);
        }
      } else {
        const cv = document.createElement("canvas");
        cv.width = g.count;
        cv.height = 1;
        cv.className = "map strip";
        const cell = Math.max(3, Math.min(32, Math.floor(STRIP_CSS / g.count)));
        cv.style.width = `${g.count * cell}px`;
        cv.style.height = g.isOutput ? "28px" : "18px";
        cv.title = `${g.title}: ${g.count} units (click to inspect the most active)`;
        cv.addEventListener("click", (e) => {
          const r = cv.getBoundingClientRect();
          const i = Math.floor(((e.clientX - r.left) / r.width) * g.count);
          this.h.onPick(gi, Math.max(0, Math.min(g.count - 1, i)));
        });
        body.appendChild(cv);
        canvases.push(cv);
        if (g.isOutput) {
          const digits = document.createElement("div");
          digits.className = "strip-digits";
          digits.style.width = cv.style.width;
          for (let i = 0; i < g.count; i++) {
            const d = document.createElement("span");
            d.textContent = classTag(i, g.classes);
            d.title = g.classes[i];
            digits.appendChild(d);
          }
          body.appendChild(digits);
        }
      }
      row.append(head, body);
      this.el.appendChild(row);
      return { row, range, canvases, switches };
    });
    this.markOff();
  }

  /** Show which maps are switched off. */
  markOff() {
    for (const { switches } of this.rows) {
      for (const { button, canvas, layer, c } of switches) {
        const off = this.h.isOff(layer, c);
        button.setAttribute("aria-pressed", String(off));
        button.title = `${off ? "switch back on" : "switch off"}: ${layer} channel ${c}`;
        button.setAttribute("aria-label", button.title);
        canvas.classList.toggle("off", off);
      }
    }
  }

  /** Show the per-group display values: the ranges at once, the maps when in view. */
  update(display) {
    this.display = display;
    this.stale = true;
    if (this.inView) this.paint();
    else this.showRanges();
  }

  showRanges() {
    this.display.forEach((d, gi) => {
      const row = this.rows[gi];
      if (!row) return;
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of d.values) { if (v < lo) lo = v; if (v > hi) hi = v; }
      row.range.textContent = `range ${fmt(lo)} … ${fmt(hi)}`;
    });
  }

  /** Paint every map from the shown display values. */
  paint() {
    if (!this.display) return;
    this.stale = false;
    this.showRanges();
    this.display.forEach((d, gi) => {
      const g = this.groups[gi];
      const row = this.rows[gi];
      if (!row) return;
      if (g.isMaps) {
        const [, H, W] = g.shape;
        row.canvases.forEach((cv, c) => paintIndices(cv, d.norm.subarray(c * H * W, (c + 1) * H * W), W, H));
      } else {
        paintIndices(row.canvases[0], d.norm, g.count, 1);
      }
    });
  }

  /** Inspect the most active unit of map `c` of group `gi`. */
  pick(gi, c) {
    const g = this.groups[gi];
    const hw = g.shape[1] * g.shape[2];
    let best = c * hw;
    const values = this.display?.[gi]?.values;
    if (values) {
      for (let i = c * hw; i < (c + 1) * hw; i++) if (values[i] > values[best]) best = i;
    }
    this.h.onPick(gi, best);
  }
}

