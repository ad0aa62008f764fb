/* The 3D view from the keyboard: its canvas is one tab stop; ↑/↓ move the focused unit within its
   layer (Page Up/Down by ten, Home/End to the ends), ←/→ to the layer before or after (at the same
   relative place), Enter opens the unit panel. The unit is highlighted as on hover, its readout
   shown in the view's corner and announced through a polite live region. */

import { fmt } from "./format.js";
import { unitLabel } from "./netmodel.js";
import { state } from "./state.js";

const WITHIN = { ArrowUp: -1, ArrowDown: 1, PageUp: -10, PageDown: 10 };
const ACROSS = { ArrowLeft: -1, ArrowRight: 1 };

export class UnitKeys {
  /** @param {{canvas, body, live, focus}} parts the view's canvas and box, the live region, focus.js */
  constructor(parts) {
    Object.assign(this, parts);
    this.unit = null;
    this.canvas.addEventListener("keydown", (e) => this.key(e));
    this.canvas.addEventListener("focus", () => this.move(this.valid(this.unit) ? this.unit : this.start()));
    this.canvas.addEventListener("blur", () => {
      if (state.hover && this.unit && state.hover === this.unit) this.focus.hover(null);
    });
  }

  /** Shown groups (hidden layers are skipped), as indices into state.groups. */
  shown() {
    return state.groups.map((g, i) => i).filter((i) => !state.view.hidden.has(state.groups[i].head.name));
  }

  valid(unit) {
    return unit && state.groups[unit.group] && unit.index < state.groups[unit.group].count &&
      this.shown().includes(unit.group);
  }

  /** The selected unit, else the most active unit of the first shown layer after the input. */
  start() {
    if (this.valid(state.selected)) return state.selected;
    const shown = this.shown();
    const group = shown.find((i) => state.groups[i].kind !== "input") ?? shown[0];
    if (group === undefined) return null;
    const values = state.display[group]?.values;
    let best = 0;
    if (values) for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
    return { group, index: best };
  }

  key(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const unit = this.valid(this.unit) ? this.unit : this.start();
    if (!unit) return;
    const count = state.groups[unit.group].count;
    let next;
    if (e.key in WITHIN) {
      next = { group: unit.group, index: Math.max(0, Math.min(count - 1, unit.index + WITHIN[e.key])) };
    } else if (e.key === "Home" || e.key === "End") {
      next = { group: unit.group, index: e.key === "Home" ? 0 : count - 1 };
    } else if (e.key in ACROSS) {
      const shown = this.shown();
      const to = shown[shown.indexOf(unit.group) + ACROSS[e.key]];
      if (to === undefined) next = unit;
      else {
        const n = state.groups[to].count;
        next = { group: to, index: Math.min(n - 1, Math.floor(((unit.index + 0.5) / count) * n)) };
      }
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      this.focus.select({ ...unit });
      return;
    } else {
      return;
    }
    e.preventDefault();
    this.move(next);
  }

  /** Focus `unit`: highlight it, show its readout in the view's corner and announce it. */
  move(unit) {
    if (!unit) return;
    this.unit = unit;
    const r = this.body.getBoundingClientRect();
    this.focus.hover(unit, { clientX: r.left, clientY: r.top });
    const group = state.groups[unit.group];
    const value = state.result ? fmt(state.display[unit.group]?.values[unit.index]) : "no value yet";
    const p = group.isOutput && state.result
      ? `, probability ${(state.result.probabilities[unit.index] * 100).toFixed(1)}%` : "";
    this.live.textContent = `${unitLabel(group, unit.index)}: ${value}${p}`;
  }
}
