/* HTML labels that follow 3D anchor points (layer names and shapes, output digits): crisp text
   at any zoom, positioned with one transform per label per frame. A label marked `declutter`
   never hides: where it would overlap an earlier one or any other label (the output's class
   names) it drops its shape text, then climbs in steps above its anchor with a leader line down
   to it, and it stays inside the view. */

import { project } from "./mat4.js";

/**
 * Spots a crowded label tries, cheapest first: [compact, side, step]. Full size it only climbs
 * straight up (steps of its height); compact (title only) it may also move aside (sides of
 * half its width) and, last, drop below its anchor.
 */
const SPOTS = (() => {
  const spots = [];
  for (let step = 0; step <= 5; step++) spots.push([false, 0, step, step]);
  for (let side = -6; side <= 6; side++) {
    for (let step = -4; step <= 6; step++) {
      const cost = 1 + Math.abs(side) * 1.5 + (step < 0 ? 4 - step * 2 : step);
      spots.push([true, side, step, cost]);
    }
  }
  return spots.sort((a, b) => a[3] - b[3]);
})();

export class Labels {
  constructor(container) {
    this.container = container;
    this.items = [];
  }

  /**
   * items: [{parts: [[text, className]], className, anchor: (mix) => [x, y, z], visible,
   * declutter, origin}]; `origin` is the point of the label's box put on its anchor, as
   * fractions of its width and height ([0, 0.5]: left end, middle); a decluttered label is
   * centred above its anchor ([0.5, 1]).
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
      return { origin: item.declutter ? [0.5, 1] : [0, 0.5], ...item, el, shown: true, key: "" };
    });
  }

  /** Toggle a class on one label (e.g. the predicted digit); it may change the label's size. */
  classify(index, className, on) {
    const item = this.items[index];
    if (!item || item.el.classList.contains(className) === on) return;
    item.el.classList.toggle(className, on);
    item.w = 0;
    item.key = "";
  }

  /** Measure a label's full and compact (title only) size once. */
  measure(item) {
    if (item.w) return;
    item.w = item.el.offsetWidth;
    item.h = item.el.offsetHeight;
    item.el.classList.add("compact");
    item.wCompact = item.el.offsetWidth;
    item.el.classList.remove("compact");
  }

  /**
   * Where a decluttered label goes: {x, lift, compact, r}, the cheapest free spot (no overlap
   * with a placed label, inside the view) in SPOTS' order; the last one tried otherwise.
   */
  place(item, x, y, width, placed) {
    let spot = null;
    const foot = Math.max(y, item.h + 2); // a label at the top edge is nudged down into view
    for (const [compact, side, step] of SPOTS) {
      const w = compact ? item.wCompact : item.w;
      const cx = Math.max(w / 2 + 2, Math.min(width - w / 2 - 2, x + side * (w / 2 + 6)));
      const bottom = foot - step * (item.h + 3);
      const r = [cx - w / 2, bottom - item.h, cx + w / 2, bottom];
      if (r[1] < 2 && spot) continue; // no climbing out of the top of the view
      spot = { x: cx, lift: y - bottom, compact, r };
      if (!placed.some((q) => r[0] < q[2] + 2 && q[0] < r[2] + 2 && r[1] < q[3] && q[1] < r[3])) return spot;
    }
    return spot;
  }

  /** Position every label for this frame: the fixed ones first, so that decluttered ones
      can keep clear of them too. */
  update(viewProj, width, height, mix) {
    const placed = [];
    for (const item of this.items) if (!item.declutter) this.position(item, viewProj, width, height, mix, placed);
    for (const item of this.items) if (item.declutter) this.position(item, viewProj, width, height, mix, placed);
  }

  /** Place one label (its box's `origin` on its anchor, or a decluttered spot) and add the box
      it takes to `placed`. */
  position(item, viewProj, width, height, mix, placed) {
    const p = item.visible ? project(viewProj, item.anchor(mix)) : null;
    const show = p && p[3] > 0 && Math.abs(p[0]) < 1.2 && Math.abs(p[1]) < 1.2;
    if (!show) {
      if (item.shown) item.el.style.visibility = "hidden";
      item.shown = false;
      return;
    }
    let x = ((p[0] + 1) / 2) * width;
    let y = ((1 - p[1]) / 2) * height;
    this.measure(item);
    if (item.declutter) {
      const spot = this.place(item, x, y, width, placed);
      const { lift, compact } = spot;
      // The leader line runs from the label's foot back to its anchor.
      const dx = x - spot.x;
      const lead = `${Math.hypot(dx, lift).toFixed(1)}px,${Math.atan2(-dx, lift).toFixed(3)}rad`;
      x = spot.x;
      y -= lift;
      if (lead !== item.lead) {
        const [length, angle] = lead.split(",");
        item.el.style.setProperty("--lead", length);
        item.el.style.setProperty("--lead-angle", angle);
        item.el.classList.toggle("lifted", lift > 1 || Math.abs(dx) > 1);
        item.lead = lead;
      }
      if (compact !== item.compact) {
        item.el.classList.toggle("compact", compact);
        item.compact = compact;
      }
    }
    const w = item.compact ? item.wCompact : item.w;
    const left = x - item.origin[0] * w;
    const top = y - item.origin[1] * item.h;
    placed.push([left, top, left + w, top + item.h]);
    const key = `${left.toFixed(1)},${top.toFixed(1)}`;
    if (key !== item.key) {
      item.el.style.transform = `translate(${left.toFixed(1)}px, ${top.toFixed(1)}px)`;
      item.key = key;
    }
    if (!item.shown) item.el.style.visibility = "visible";
    item.shown = true;
  }
}
