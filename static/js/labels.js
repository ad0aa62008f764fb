/* HTML labels that follow 3D anchor points (layer names and shapes, output digits): crisp text
   at any zoom, positioned with one transform per label per frame. Labels marked `declutter`
   give way, in order, to earlier ones they would overlap on screen. */

import { project } from "./mat4.js";

export class Labels {
  constructor(container) {
    this.container = container;
    this.items = [];
  }

  /**
   * items: [{parts: [[text, className]], className, anchor: (mix) => [x, y, z], visible,
   * declutter}]; a decluttered label is drawn centred above its anchor (CSS translate).
   */
  set(items) {
    this.container.replaceChildren();
    this.items = items.map((item) => {
      const el = document.createElement("div");
      el.className = `label ${item.className || ""}`;
      for (const [text, cls] of item.parts) {
        const span = document.createElement("span");
        span.textContent = text;
        if (cls) span.className = cls;
        el.appendChild(span);
      }
      this.container.appendChild(el);
      return { ...item, el, shown: true, key: "" };
    });
  }

  /** Toggle a class on one label (e.g. the predicted digit). */
  classify(index, className, on) {
    this.items[index]?.el.classList.toggle(className, on);
  }

  update(viewProj, width, height, mix) {
    const placed = [];
    for (const item of this.items) {
      const p = item.visible ? project(viewProj, item.anchor(mix)) : null;
      let show = p && p[3] > 0 && Math.abs(p[0]) < 1.2 && Math.abs(p[1]) < 1.2;
      const x = show ? ((p[0] + 1) / 2) * width : 0;
      const y = show ? ((1 - p[1]) / 2) * height : 0;
      if (show && item.declutter) {
        if (!item.w) {
          item.w = item.el.offsetWidth;
          item.h = item.el.offsetHeight;
        }
        const r = [x - item.w / 2, y - item.h, x + item.w / 2, y];
        show = !placed.some((q) => r[0] < q[2] && q[0] < r[2] && r[1] < q[3] && q[1] < r[3]);
        if (show) placed.push(r);
      }
      if (!show) {
        if (item.shown) item.el.style.visibility = "hidden";
        item.shown = false;
        continue;
      }
      const key = `${x.toFixed(1)},${y.toFixed(1)}`;
      if (key !== item.key) {
        item.el.style.transform = `translate(${x.toFixed(1)}px, ${y.toFixed(1)}px)`;
        item.key = key;
      }
      if (!item.shown) item.el.style.visibility = "visible";
      item.shown = true;
    }
  }
}
