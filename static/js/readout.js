/* The hover readout: a small label next to the pointer naming the unit and its value. */

import { fmt } from "./format.js";

export class Readout {
  constructor(el, container) {
    this.el = el;
    this.container = container;
  }

  show(title, value, extra, clientX, clientY) {
    const r = this.container.getBoundingClientRect();
    this.el.replaceChildren();
    const t = document.createElement("div");
    t.className = "ro-title";
    t.textContent = title;
    const v = document.createElement("div");
    v.className = "ro-value";
    v.textContent = fmt(value);
    const x2 = document.createElement("div");
    x2.className = "ro-extra";
    x2.textContent = extra;
    this.el.append(t, v, x2);
    this.el.hidden = false;
    const x = Math.min(clientX - r.left + 16, r.width - this.el.offsetWidth - 8);
    const y = Math.min(clientY - r.top + 14, r.height - this.el.offsetHeight - 8);
    this.el.style.transform = `translate(${Math.max(8, x)}px, ${Math.max(8, y)}px)`;
  }

  hide() {
    this.el.hidden = true;
  }
}
