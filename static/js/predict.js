/* The prediction flow: a drawing (or loaded digit) goes to /api/activations and, once a stroke
   is finished, to /api/compare; one request in flight per kind, only the latest waiting input
   is sent; answers fan out to the answer card, the 3D view, the flat maps and the panels. */

import { effectText, offUnits } from "./ablate.js";
import * as api from "./api.js";
import { currentDataset, noun } from "./datasets.js";
import { answerLayers, layersToAsk } from "./derive.js";
import { latestOnly } from "./latest.js";
import { displayValues, shownLayers } from "./netmodel.js";
import { state } from "./state.js";

/**
 * The layers the page needs now for `model` (issue 18: a classroom's bytes): those the view draws
 * and the selected unit's whole group (the unit panel's arithmetic), or every layer while the
 * tour runs (it quotes each layer's own numbers). The server is asked only for those the page
 * cannot derive (derive.js).
 */
function neededLayers(model) {
  if (state.touring || !state.groups.length) return ["input", ...model.layers.map((l) => l.name)];
  const names = new Set(shownLayers(state.groups));
  for (const name of state.groups[state.selected?.group]?.members || []) names.add(name);
  return [...names];
}

export class Prediction {
  /**
   * @param {{result, compare, view, maps, teach, focus, scales}} parts the answer card, the
   *   comparison panel, the 3D view, the flat maps, the explain-and-teach section, focus
   *   (focus.js) and the colour-scale legend (scales.js)
   */
  constructor(parts) {
    Object.assign(this, parts);
    this.busyCount = 0;
    this.predict = latestOnly(({ source, preview }, signal) => this.activations(source, preview, signal), (on) => {
      this.busy(on);
      this.result.busy(on);
    });
    this.compareAll = latestOnly((source) => this.compareWith(source), (on) => this.busy(on));
    this.watchers = [];
    this.focus.onSelect = () => this.complete(); // the unit panel shows its group's every layer
  }

  /** Call fn(result | null) whenever the shown values change: an answer, a cleared pad, new
      groups or scale (the tour's live numbers). */
  watch(fn) {
    this.watchers.push(fn);
  }

  /** Count requests in flight; body[data-busy] tells the page (and its tests) when all are done. */
  busy(on) {
    this.busyCount += on ? 1 : -1;
    document.body.dataset.busy = this.busyCount > 0 ? "1" : "0";
  }

  /** Predict for {image} or {pixels}; `withCompare` also asks every model; a `preview` (a live
      update while a stroke is drawn) yields to other requests on a busy server, and anything
      else aborts the request running (its answer would be stale). */
  ask(source, withCompare, preview = false) {
    state.source = source;
    this.predict({ source, preview }, { supersede: !preview });
    if (withCompare) this.compareAll(source);
    this.teach.setSource(source);
  }

  /** Ask again for the shown drawing if its answer lacks layers the page now needs (a unit
      selected, the tour started, layers unmerged). */
  complete() {
    if (!state.source || !state.result) return;
    const model = state.models.get(state.modelName);
    if (!model) return;
    const needed = neededLayers(model);
    if (needed.some((name) => !state.result.layers.has(name))) this.predict({ source: state.source, preview: false });
  }

  /** The pad is blank: forget the drawing and say what to do. */
  forget(hint) {
    state.source = null;
    state.note = "";
    this.teach.setSource(null);
    this.clear(hint);
  }

  async activations(source, preview, signal) {
    const name = state.modelName;
    const model = state.models.get(name);
    const off = offUnits();
    try {
      const ask = model ? layersToAsk(model, neededLayers(model), off) : null;
      const answer = await api.activations(name, source, off, ask, { preview, signal });
      if (name === state.modelName && state.source) this.apply(answer, answerLayers(answer, model, off));
    } catch (err) {
      // Superseded by a newer request, or a preview a busy server turned away: the answer to
      // come replaces it, so neither is worth a word.
      if (err.name === "AbortError" || (preview && err.status === 503)) return;
      if (state.source) this.showError(err);
    }
  }

  async compareWith(source) {
    try {
      const dataset = state.datasetName;
      const answer = await api.compare(source, dataset, offUnits());
      if (state.source && dataset === state.datasetName) {
        state.compare = answer.results;
        this.compare.show(answer.results, state.modelName);
      }
    } catch (err) {
      if (state.source && err.status !== 422) this.compare.placeholder(`Comparison failed: ${err.message}`);
    }
  }

  showError(err) {
    if (err.status === 422 && /draw/i.test(err.message)) {
      this.clear(`the pad looks empty: draw a ${noun()}`);
      this.result.status(`Draw a ${noun()} on the pad: strokes about as thick as the brush work best.`, "hint");
      return;
    }
    const text = err.status === 0
      ? "The server cannot be reached. Is cnnvis still running?"
      : `Could not classify this drawing: ${err.message}`;
    this.result.status(text, "error");
  }

  /** Show an answer; `layers` its decoded and derived layers (derive.js answerLayers). */
  apply(answer, layers) {
    state.result = { label: answer.label, probabilities: answer.probabilities, input: answer.input, layers };
    this.result.show(answer);
    const note = [state.note, effectText(answer.ablation, answer.label)].filter(Boolean).join(" ");
    this.result.status(note, note ? "hint" : "");
    this.pushValues();
    this.view.setPredicted(answer.label);
    this.teach.predicted(state.result);
    this.focus.prefetch();
  }

  /** Recompute per-group values for the current groups and repaint everything that shows them. */
  pushValues() {
    const layers = state.result ? state.result.layers : new Map();
    state.display = displayValues(state.groups, layers, state.view.scale);
    this.scales?.update(state.display, state.view.scale);
    this.view.setValues(state.display);
    this.maps.update(state.display);
    this.focus.refresh();
    if (state.selected) this.focus.showInspect();
    for (const fn of this.watchers) fn(state.result);
  }

  /** No answer to show (blank pad, empty drawing, new model): `hint` says why. */
  clear(hint) {
    state.result = null;
    this.result.empty(hint);
    this.view.setPredicted(-1);
    this.pushValues();
    state.compare = null;
    this.compare.placeholder(`Draw a ${noun()} to ask every ${currentDataset().title} network.`);
  }
}
