/* The dataset switch and everything that names what is drawn: the picker of datasets (from
   /api/datasets), the class names of the shown network's dataset, and the copy that says
   "digit" or "piece of clothing". The networks list follows the dataset (models.js). */

import { el } from "./dom.js";
import { state } from "./state.js";

const $ = (id) => document.getElementById(id);

/** The dataset of the shown network (or the chosen one before any network is shown). */
export function currentDataset() {
  const known = state.datasets.get(state.datasetName);
  if (known) return known;
  const classes = state.models.get(state.modelName)?.classes || [];
  return { name: state.datasetName, title: state.datasetName || "", noun: "drawing", plural: "drawings", classes };
}

/** A label's class name in the shown network's dataset: "3", "Dress". */
export function className(label) {
  const classes = state.models.get(state.modelName)?.classes || currentDataset().classes;
  return classes[label] ?? String(label);
}

/** A class name with its article: "a 7", "an 8", "a Dress", "an Ankle boot". */
export function aClass(label) {
  const name = className(label);
  const spoken = /^\d+$/.test(name) ? Number(name) : null;
  const vowel = spoken !== null ? spoken === 8 || spoken === 11 || spoken === 18 : /^[aeiou]/i.test(name);
  return `${vowel ? "an" : "a"} ${name}`;
}

/** What one drawn thing is called: "digit", "piece of clothing". */
export const noun = () => currentDataset().noun;

/** The copy on the page that names what is drawn, for the dataset `ds`. */
function applyCopy(ds) {
  const first = ds.classes[0];
  const last = ds.classes[ds.classes.length - 1];
  $("pad-title").textContent = `Draw a ${ds.noun}`;
  $("draw-canvas").setAttribute("aria-label", `Drawing pad: draw a ${ds.noun} (${first} to ${last})`);
  $("pad-hint").textContent = /^\d+$/.test(first) ? `draw a ${ds.noun} ${first}–${last} here` : `draw a ${ds.noun} here`;
  $("samples-title").textContent = `${ds.title} test ${ds.plural}`;
  $("samples-keys").textContent = `One tab stop: the arrow keys move between the ${ds.plural}, Enter loads one.`;
  $("prob-bars").setAttribute("aria-label", `Probability of each ${ds.noun === "digit" ? "digit" : "class"}`);
  document.body.dataset.dataset = ds.name;
}

export class Datasets {
  /**
   * @param {{onPick: (name) => void, onShown: (ds) => void}} handlers onPick: the user chose a
   *   dataset; onShown: the page now shows dataset `ds` (load its samples, refill the picker)
   */
  constructor(handlers) {
    this.handlers = handlers;
    $("dataset-select").addEventListener("change", (e) => handlers.onPick(e.target.value));
  }

  /** Fill the switch from /api/datasets ({default, datasets}); datasets without a network stay
      listed but disabled. */
  list(answer) {
    for (const ds of answer.datasets) state.datasets.set(ds.name, ds);
    $("dataset-select").replaceChildren(...answer.datasets.map((ds) => el("option", {
      value: ds.name, disabled: !ds.models.length,
      title: `${ds.classes.length} classes · ${ds.credit} · ${ds.licence}`,
    }, ds.title)));
    $("dataset-select").value = state.datasetName || answer.default;
  }

  /** Show dataset `name` (a network of it is being shown): copy, switch, then the handler. */
  show(name) {
    if (name === state.datasetName) return;
    state.datasetName = name;
    $("dataset-select").value = name;
    const ds = currentDataset();
    applyCopy(ds);
    this.handlers.onShown(ds);
  }
}
