/* The page's single state object: what the page shows and was asked, read and written by the
   modules main.js wires together (pad, predict, focus, models, teach). */

import { remembered } from "./prefs.js";

export const state = {
  /** Model summaries from /api/models, by name. */
  models: new Map(),
  modelName: null,
  /** Dataset descriptions from /api/datasets, by name, and the shown network's dataset. */
  datasets: new Map(),
  datasetName: null,
  /** Set once boot() has shown the first dataset's gallery (and maybe restored a shared link). */
  booted: false,
  /** Display groups of the current model (see netmodel.js). */
  groups: [],
  /** Last /api/activations answer, decoded: {label, probabilities, input, layers: Map}. */
  result: null,
  /** Per group: {values: Float32Array, norm: Uint8Array (LUT index per unit)}. */
  display: [],
  /** What the last prediction was made from: {image} or {pixels}, or null for a blank pad. */
  source: null,
  /** Every model's answer for the same input (/api/compare results), or null. */
  compare: null,
  view: {
    layout: "3d",
    merge: true,
    links: true,
    /** Colour scale of activations: "map", "layer" or "global" (scales.js). */
    scale: "map",
    /** Names of head layers the user hid. */
    hidden: new Set(),
  },
  /** True while the guided tour is open (tour.js): answers then hold every layer. */
  touring: false,
  /** {group, index} under the pointer, and the clicked one. */
  hover: null,
  selected: null,
  /** Decoded parameters: "model/param" → Promise<{shape, values}>. */
  params: new Map(),
  samples: [],
  /** Hint shown with the next answer (what was loaded onto the pad), or "". */
  note: "",
  /** Units switched off (issue 16) for `model`: [{layer, index}], sent as `ablate` with every
      prediction of that model; switching models forgets them. */
  ablate: { model: null, units: [] },
  /** Whether the unit panel's "What it responds to" section is unfolded (remembered, prefs.js). */
  unitMeaningOpen: remembered("unitMeaningOpen", true) !== false,
  /** The explain-and-teach section (teach.js): the open tab, whether it is on screen, and each
      panel's settings and last answer under its id (created from its descriptor, panels.js). */
  teach: {
    tab: "why",
    visible: false,
  },
};
