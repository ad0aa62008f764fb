/* The Train view's focus, as focus.js is the page's: the unit under the pointer in the run's 3D
   view (readout, highlight and its incoming connections) and the clicked one (a unit panel with
   its arithmetic), both under the weights of the snapshot shown (GET /api/runs/{id}/params). */

import * as api from "./api.js";
import { decodeArray } from "./codec.js";
import { explainUnit } from "./explain.js";
import { neededParams } from "./geometry.js";
import { unitLabel } from "./netmodel.js";
import { ParamCache } from "./params.js";
import { incoming } from "./receptive.js";

const sameUnit = (a, b) => a && b && a.group === b.group && a.index === b.index;

export class TrainFocus {
  /** @param {{view, readout, inspect}} parts the run's 3D view, its hover readout, its unit panel */
  constructor(parts) {
    Object.assign(this, parts);
    this.hovered = null;
    this.selected = null;
    this.token = 0;
    this.at = { groups: [], display: [], layers: new Map(), probabilities: null, run: null, step: 0 };
    // "run@step/param" → weights; a run's snapshot steps never change their weights
    this.params = new ParamCache(new Map(), async (key, name) => {
      const [run, step] = key.split("@");
      return decodeArray(await api.runParam(run, Number(step), name));
    });
  }

  /** What the view shows now: {groups, display, layers, probabilities, run, step} (the answer
      at the snapshot `step` of `run`; layers empty without one). */
  setContext(at) {
    const moved = at.groups !== this.at.groups;
    this.at = at;
    if (moved) this.reset();
    this.refresh();
    if (this.selected) this.showInspect();
  }

  /** Nothing hovered or selected (a new architecture). */
  reset() {
    this.hovered = null;
    this.selected = null;
    this.readout.hide();
    this.inspect.hide();
  }

  hover(unit, e) {
    const changed = !sameUnit(unit, this.hovered);
    this.hovered = unit;
    const group = unit && this.at.groups[unit.group];
    if (group) {
      const value = this.at.display[unit.group]?.values[unit.index];
      const probs = this.at.probabilities;
      const extra = group.isOutput && probs ? `p = ${(probs[unit.index] * 100).toFixed(1)}%` : "click for the arithmetic";
      this.readout.show(unitLabel(group, unit.index), probs ? value : NaN, extra, e.clientX, e.clientY);
    } else {
      this.readout.hide();
    }
    if (changed) this.refresh();
  }

  /** Open the unit panel on `unit` (null closes it). */
  select(unit) {
    this.selected = unit && this.at.groups[unit.group] ? unit : null;
    if (this.selected) this.showInspect();
    else this.inspect.hide();
    this.refresh();
  }

  weights(group) {
    return this.params.forGroup(`${this.at.run}@${this.at.step}`, group);
  }

  /** Highlight the hovered (else selected) unit and draw its incoming connections. */
  async refresh() {
    const unit = this.hovered || this.selected;
    const token = ++this.token;
    const group = unit && this.at.groups[unit.group];
    const prev = unit && this.at.groups[unit.group - 1];
    if (!group || !prev) {
      this.view.setFocus(group ? unit : null, null);
      return;
    }
    let params = null;
    if (neededParams(group).length && this.at.run) {
      const pending = this.weights(group);
      if (!pending.settled) this.view.setFocus(unit, null);
      params = await pending.promise.catch(() => null);
      if (token !== this.token) return;
    }
    const prevValues = this.at.display[unit.group - 1]?.values;
    this.view.setFocus(unit, incoming(group, prev, unit.index, params, prevValues));
  }

  async showInspect() {
    const unit = this.selected;
    const { groups, layers, probabilities } = this.at;
    const group = unit && groups[unit.group];
    if (!group) return;
    const shaded = (ex) => {
      const norm = this.at.display[unit.group]?.norm[unit.index];
      ex.shade = norm === undefined ? 0 : (norm - 127.5) / 127.5;
      return ex;
    };
    const explain = (params) => shaded(explainUnit(groups, unit.group, unit.index, layers, params, probabilities));
    let params = null;
    if (neededParams(group).length && this.at.run) {
      const pending = this.weights(group);
      if (!pending.settled) this.inspect.show(group, unit.index, explain(null), "this layer's weights");
      params = await pending.promise.catch(() => null);
      if (!sameUnit(unit, this.selected) || groups !== this.at.groups) return;
    }
    this.inspect.show(group, unit.index, explain(params), null);
  }
}
