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

/** What several are called: "digits", "garments". */
export const plural = () => currentDataset().plural;

/** The shown network's class names, in label order. */
export function classNames() {
  return state.models.get(state.modelName)?.classes || currentDataset().classes;
}

/** A class name short enough to sit under a 10-px bar: the name itself up to three letters, else
    its shortest prefix of three or more letters no other class name starts with ("Sne", "Sho"). */
export function classTag(label, names = classNames()) {
  const name = names[label] ?? String(label);
  if (name.length <= 3) return name;
  for (let n = 3; n < name.length; n++) {
    const tag = name.slice(0, n);
    if (!names.some((other, i) => i !== label && other.startsWith(tag))) return tag;
  }
  return name;
}

/** How a drawing was made into the network's input, in a caption's few words, per the dataset's
    `preprocessing` (prepview.js shows the steps in full). */
const PREPARED = { digit: "28×28 after centring", fill: "28×28, fitted to the frame" };

/** A copy template with {noun}, {plural}, {title} and {prepared} filled in for the dataset `ds`. */
const fill = (template, ds) => template.replace(/\{(noun|plural|title|prepared)\}/g,
  (_, key) => (key === "prepared" ? PREPARED[ds.preprocessing] ?? "28×28" : ds[key]));

/** The copy on the page that names what is drawn, for the dataset `ds`: the templates in the
    markup (data-copy: the text, data-copy-label: aria-label) and the pad's hints. */
function applyCopy(ds) {
  for (const node of document.querySelectorAll("[data-copy]")) node.textContent = fill(node.dataset.copy, ds);
  for (const node of document.querySelectorAll("[data-copy-label]")) node.setAttribute("aria-label", fill(node.dataset.copyLabel, ds));
  const first = ds.classes[0];
  const last = ds.classes[ds.classes.length - 1];
  $("draw-canvas").setAttribute("aria-label", `Drawing pad: draw a ${ds.noun} (${first} to ${last})`);
  $("pad-hint").textContent = /^\d+$/.test(first) ? `draw a ${ds.noun} ${first}–${last} here` : `draw a ${ds.noun} here`;
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
