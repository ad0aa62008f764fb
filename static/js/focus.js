/* Focus and inspection: the unit under the pointer (readout, highlight and its incoming
   connections on the 3D view) and the clicked one (the unit panel's arithmetic, exact from
   /api/unit), with the layer weights the connections need fetched once per model and parameter. */

import { isOff } from "./ablate.js";
import * as api from "./api.js";
import { decodeArray, decodeTree } from "./codec.js";
import { explainExact, explainUnit } from "./explain.js";
import { neededParams, unitLayerOf, unitOf } from "./geometry.js";
import { unitLabel } from "./netmodel.js";
import { el, scrollToSight } from "./dom.js";
import { ParamCache } from "./params.js";
import { remember } from "./prefs.js";
import { incoming } from "./receptive.js";
import { state } from "./state.js";
import { unitMeaning } from "./unitmeaning.js";

const PREFETCH_LIMIT = 2_000_000; // parameters fetched eagerly for instant hover connections

function sameUnit(a, b) {
  return a && b && a.group === b.group && a.index === b.index;
}

export class Focus {
  /**
   * @param {{view, readout, inspect, switchUnit}} parts the 3D view, the hover readout, the unit
   *   panel, and switchUnit(layer, index) (switch a unit off or back on)
   */
  constructor(parts) {
    Object.assign(this, parts);
    this.meaning = { key: null, answer: null }; // the last /api/models/{name}/units answer
    this.token = 0; // the latest refresh; older ones waiting for weights give up
    this.prefetched = null;
    this.exact = { key: null, source: null, answer: null }; // the last /api/unit answer
    this.params = new ParamCache(state.params, async (model, name) => decodeArray(await api.getParam(model, name)));
    this.inspect.onRefresh = () => this.showInspect();
  }

  hover(unit, e) {
    const changed = !sameUnit(unit, state.hover);
    state.hover = unit;
    if (unit) {
      const group = state.groups[unit.group];
      const value = state.display[unit.group]?.values[unit.index];
      const extra = group.isOutput && state.result
        ? `p = ${(state.result.probabilities[unit.index] * 100).toFixed(1)}%` : "click for the arithmetic";
      this.readout.show(unitLabel(group, unit.index), state.result ? value : NaN, extra, e.clientX, e.clientY);
    } else {
      this.readout.hide();
    }
    if (changed) this.refresh();
  }

  /** Open the unit panel on `unit` (null closes it); `fromPanel` scrolls it into sight. */
  select(unit, fromPanel = false) {
    state.selected = unit;
    this.onSelect?.();
    if (!unit) {
      this.inspect.hide();
    } else {
      this.showInspect();
      if (fromPanel) scrollToSight(this.inspect.dom.panel);
    }
    this.refresh();
  }

  /** Nothing hovered or selected (the groups are about to change). */
  reset() {
    state.hover = null;
    state.selected = null;
    this.inspect.hide();
  }

  loadParams(group) {
    return this.params.forGroup(state.modelName, group);
  }

  /** Highlight the hovered (else selected) unit and draw its incoming connections. */
  async refresh() {
    const unit = state.hover || state.selected;
    const token = ++this.token;
    if (!unit || !state.groups[unit.group]) {
      this.view.setFocus(null, null);
      return;
    }
    const group = state.groups[unit.group];
    const prev = state.groups[unit.group - 1];
    if (!state.view.links || !prev) {
      this.view.setFocus(unit, null);
      return;
    }
    let params = null;
    if (neededParams(group).length) {
      const pending = this.loadParams(group);
      if (!pending.settled) this.view.setFocus(unit, null);
      params = await pending.promise.catch(() => null);
      if (token !== this.token) return;
    }
    const prevValues = state.display[unit.group - 1]?.values;
    this.view.setFocus(unit, incoming(group, prev, unit.index, params, prevValues));
  }

  async showInspect() {
    const unit = state.selected;
    const group = unit && state.groups[unit.group];
    if (!group) return;
    this.showMeaning(unit, group);
    const layers = state.result ? state.result.layers : new Map();
    const probs = state.result ? state.result.probabilities : null;
    const shaded = (ex) => {
      const norm = state.display[unit.group]?.norm[unit.index];
      ex.shade = norm === undefined ? 0 : (norm - 127.5) / 127.5;
      return ex;
    };
    const explain = (params) => shaded(explainUnit(state.groups, unit.group, unit.index, layers, params, probs));
    if (group.head.role !== "input" && state.source && state.result) {
      const source = state.source;
      const key = `${state.modelName}/${group.head.name}/${unit.index}`;
      let answer = this.exact.source === source && this.exact.key === key ? this.exact.answer : null;
      if (!answer) {
        this.inspect.show(group, unit.index, explain(null), "this unit's exact values");
        answer = await api.unit(state.modelName, source, group.head.name, unit.index).catch(() => null);
        if (!sameUnit(unit, state.selected) || state.source !== source) return;
        if (answer) this.exact = { key, source, answer };
      }
      if (answer) {
        this.inspect.show(group, unit.index,
          shaded(explainExact(state.groups, unit.group, unit.index, answer, probs)), null);
        return;
      }
    }
    let params = null;
    if (neededParams(group).length) {
      const pending = this.loadParams(group);
      if (!pending.settled) this.inspect.show(group, unit.index, explain(null), "this layer's weights");
      params = await pending.promise.catch(() => null);
      if (!sameUnit(unit, state.selected)) return;
    }
    this.inspect.show(group, unit.index, explain(params), null);
  }

  /** What the selected unit responds to (issue 16), below its arithmetic. */
  async showMeaning(unit, group) {
    const model = state.models.get(state.modelName);
    const layer = model && model.has_units ? unitLayerOf(model.layers, group.head.name) : null;
    if (!layer) {
      this.inspect.setMeaning(null);
      return;
    }
    const index = unitOf(group, unit.index);
    const key = `${model.name}/${layer}/${index}`;
    let answer = this.meaning.key === key ? this.meaning.answer : null;
    if (!answer) {
      this.inspect.setMeaning(el("p", { className: "muted" }, "loading what this unit responds to…"));
      answer = await api.getUnit(model.name, layer, index).then(decodeTree).catch(() => null);
      if (!sameUnit(unit, state.selected)) return;
      if (answer) this.meaning = { key, answer };
    }
    const fold = {
      open: state.unitMeaningOpen,
      onFold: (open) => { state.unitMeaningOpen = open; remember("unitMeaningOpen", open); },
    };
    this.inspect.setMeaning(answer && unitMeaning(answer, drawingValue(layer, index), isOff(layer, index),
      () => this.switchUnit(layer, index), fold));
  }

  /** Fetch a small model's weights ahead of the first hover, once per model. */
  prefetch() {
    const model = state.models.get(state.modelName);
    if (!model || this.prefetched === model.name || model.param_count > PREFETCH_LIMIT) return;
    this.prefetched = model.name;
    this.params.prefetch(model.name, state.groups, () => state.modelName === model.name);
  }
}

/** The drawing's score for unit `index` of `layer`: a channel's largest value, a dense unit's
    value (from the last prediction), or null without one. */
function drawingValue(layer, index) {
  const found = state.result && state.result.layers.get(layer);
  if (!found) return null;
  if (found.shape.length !== 3) return found.values[index];
  const hw = found.shape[1] * found.shape[2];
  let best = -Infinity;
  for (let i = index * hw; i < (index + 1) * hw; i++) best = Math.max(best, found.values[i]);
  return best;
}
